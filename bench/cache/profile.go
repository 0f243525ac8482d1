package main

import (
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// profiles names the files the timed runs are profiled into ("" for none).
type profiles struct{ cpu, trace, block, mutex string }

// start begins the asked-for profiles and returns what ends them and
// writes them out.
func (p profiles) start() (func() error, error) {
	var stops []func() error
	stop := func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		return errors.Join(errs...)
	}
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if p.trace != "" {
		f, err := os.Create(p.trace)
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return nil, errors.Join(err, stop())
		}
		stops = append(stops, func() error { trace.Stop(); return f.Close() })
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(10_000) // one sample per 10 µs waited
		stops = append(stops, func() error { runtime.SetBlockProfileRate(0); return writeProfile("block", p.block) })
	}
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(10)
		stops = append(stops, func() error { runtime.SetMutexProfileFraction(0); return writeProfile("mutex", p.mutex) })
	}
	return stop, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
