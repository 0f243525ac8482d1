package main

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// makeStore writes a Nix store under root/store, store paths of a few kinds
// with a realistic spread of sizes (many small headers, docs, man pages,
// locales and Python modules; fewer large shared and static libraries and
// executables), plus the paths the example rules keep whole: a user
// environment, nix-1.x and the app. It stops when both minimums are reached
// and leaves the store as Nix does: read-only, mtime 1.
func makeStore(root string, minFiles int, minBytes int64) (int, int64, error) {
	m := &maker{rng: rand.New(rand.NewSource(1)), root: root}
	m.data = make([]byte, 8<<20)
	m.rng.Read(m.data)
	var envLinks []string
	m.path("nix-1.11.16", func(p string) {
		m.file(p+"/bin/nix", m.size(2e6), 0o555)
		m.many(p+"/share/nix/corepkgs", "nix", 12, 4e3)
	})
	app := m.path("my-awesome-app-1.0", func(p string) {
		m.file(p+"/bin/web", m.size(3e5), 0o555)
		for d := 0; d < 125; d++ {
			m.many(fmt.Sprintf("%s/lib/node_modules/mod%d", p, d), "js", 40, 5e3)
		}
	})
	envLinks = append(envLinks, app+"/bin/web")
	for i := 0; m.files < minFiles || m.bytes < minBytes; i++ {
		word := fmt.Sprintf("pkg%d", i)
		switch i % 4 {
		case 0, 1:
			m.path("lib"+word+"-1."+fmt.Sprint(i%7), func(p string) {
				so := fmt.Sprintf("%s/lib/lib%s.so.%d", p, word, 1+i%3)
				m.file(so, m.size(4e5), 0o555)
				m.link(filepath.Base(so), p+"/lib/lib"+word+".so")
				m.file(p+"/lib/lib"+word+".a", m.size(4e5), 0o444)
				m.file(p+"/lib/pkgconfig/"+word+".pc", m.size(400), 0o444)
				m.many(p+"/include/"+word, "h", 10+m.rng.Intn(50), 8e3)
				m.many(p+"/share/doc/"+word, "txt", 3+m.rng.Intn(8), 6e3)
			})
		case 2:
			bin := ""
			m.path(word+"-2."+fmt.Sprint(i%5), func(p string) {
				bin = p + "/bin/" + word
				m.file(bin, m.size(2e5), 0o555)
				m.many(p+"/share/man/man1", "1", 2+m.rng.Intn(6), 5e3)
				for l := 0; l < m.rng.Intn(30); l++ {
					m.file(fmt.Sprintf("%s/share/locale/l%d/LC_MESSAGES/%s.mo", p, l, word), m.size(3e4), 0o444)
				}
			})
			envLinks = append(envLinks, bin)
		default:
			m.path("python3-"+word+"-3.11", func(p string) {
				for d := 0; d < 8; d++ {
					m.many(fmt.Sprintf("%s/lib/python3.11/site-packages/%s_%d", p, word, d), "py", 5+m.rng.Intn(15), 6e3)
				}
				for d := 0; d < 30+m.rng.Intn(60); d++ {
					m.file(fmt.Sprintf("%s/lib/python3.11/lib-dynload/m%d.cpython-311-x86_64-linux-gnu.so", p, d), m.size(2.5e4), 0o555)
				}
			})
		}
	}
	m.path("user-environment", func(p string) {
		for _, target := range envLinks {
			m.link(strings.Replace(target, m.root+"/store", "/nix/store", 1), p+"/bin/"+filepath.Base(target))
		}
		m.file(p+"/manifest.nix", m.size(2e3), 0o444)
	})
	if m.err == nil {
		m.err = os.MkdirAll(filepath.Join(root, "store/.links"), 0o755)
	}
	if m.err == nil {
		m.err = readOnly(filepath.Join(root, "store"))
	}
	return m.files, m.bytes, m.err
}

type maker struct {
	rng   *rand.Rand
	root  string
	data  []byte
	files int
	bytes int64
	err   error
}

// path makes one store path and returns its directory.
func (m *maker) path(name string, fill func(p string)) string {
	const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"
	hash := make([]byte, 32)
	for i := range hash {
		hash[i] = nixBase32[m.rng.Intn(32)]
	}
	p := filepath.Join(m.root, "store", string(hash)+"-"+name)
	fill(p)
	return p
}

// size draws from a log-normal distribution around median bytes.
func (m *maker) size(median float64) int {
	return int(median * math.Exp(m.rng.NormFloat64()*0.9))
}

func (m *maker) many(dir, ext string, n int, median float64) {
	for i := 0; i < n; i++ {
		m.file(fmt.Sprintf("%s/f%d.%s", dir, i, ext), m.size(median), 0o444)
	}
}

func (m *maker) file(p string, size int, mode fs.FileMode) {
	if m.err != nil {
		return
	}
	if m.err = os.MkdirAll(filepath.Dir(p), 0o755); m.err != nil {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		m.err = err
		return
	}
	for left := size; left > 0 && err == nil; {
		off := m.rng.Intn(len(m.data) / 2)
		n := min(left, len(m.data)-off)
		_, err = f.Write(m.data[off : off+n])
		left -= n
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	m.err = err
	m.files++
	m.bytes += int64(size)
}

func (m *maker) link(target, p string) {
	if m.err != nil {
		return
	}
	if m.err = os.MkdirAll(filepath.Dir(p), 0o755); m.err == nil {
		m.err = os.Symlink(target, p)
	}
}

// readOnly gives the store Nix's modes and times: directories 0555, mtime 1.
func readOnly(store string) error {
	var all []string
	err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		all = append(all, p)
		return err
	})
	if err != nil {
		return err
	}
	one := time.Unix(1, 0)
	for i := len(all) - 1; i >= 0; i-- {
		fi, err := os.Lstat(all[i])
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if fi.IsDir() && all[i] != store {
			if err := os.Chmod(all[i], 0o555); err != nil {
				return err
			}
		}
		if err := os.Chtimes(all[i], one, one); err != nil {
			return err
		}
	}
	return nil
}

// removeAll deletes dir, read-only directories included, for a non-root user too.
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
