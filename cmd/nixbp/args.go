package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// parseArgs parses args with fs, flags anywhere on the line (rsync users
// write them after the paths), and returns the other words in order. A bad
// flag's error ends with usage; flag.ErrHelp is returned as is.
func parseArgs(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, usage)
		}
		if fs.NArg() == 0 {
			return words, nil
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// stringList is a flag given any number of times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
