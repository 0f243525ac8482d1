package nixenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// nixSites run Nix: each must set the command's Env from this package.
var nixSites = map[string]string{
	"internal/nixinstall.Nix.Command": "every command of the buildpack's Nix (evaluation, build, realisation, queries, GC, load-db), for both front-ends and nixbp",
	"internal/nixstore.hostCommand":   "nix-store of the host's Nix (nixbp cache, benchmarks), against --store ROOT",
}

// otherSites start processes that are not Nix, each with why.
var otherSites = map[string]string{
	"internal/nixmount.View.Command":     "a program through the /nix view; Nix reaches it only through nixinstall.Nix.Command, the app through internal/launch",
	"internal/nixmount.runChild":         "the userns child execs the program it was given, with the environment its parent set",
	"internal/nixmount.ptraceUsable":     "re-runs this binary to probe ptrace (it exits at once)",
	"internal/nixmount.View.runProbe":    "re-runs this binary through the strategy to probe /nix/store (it exits at once)",
	"internal/launch.relaunch":           "the launcher re-runs itself through the view at run time, with the app's environment",
	"internal/launch.runWorker":          "the launcher execs the app's worker at run time, with the app's environment",
	"internal/launch.workerCommand":      "the launcher starts the app's worker under proot at run time, with the app's environment",
	"internal/launch.lineProcesses.exec": "the launcher's shell interpreter starts the app's commands at run time",
	"internal/heroku.CITest":             "bin/test starts the slug's web process as a dyno does (bash, .profile.d), with the test dyno's environment",
}

// TestEveryNixCommandGetsTheAllowList lists every place the product (cmd/
// and internal/, not tests, e2e, bench or testenv) starts a process:
// os/exec's Command, CommandContext and Cmd literals, syscall.Exec,
// ForkExec and StartProcess, os.StartProcess, and nixmount.View.Command
// (which runs a program through the /nix view). A site missing from the
// tables fails: route Nix through nixinstall.Nix.Command (whose environment
// nixenv builds), or list it in otherSites with why it is not Nix. Each of
// nixSites must assign a command's Env from nixenv.
func TestEveryNixCommandGetsTheAllowList(t *testing.T) {
	pkgs := modulePackages(t)
	found := map[string][]string{}
	envFromNixenv := map[string]bool{}
	for _, p := range pkgs {
		for site, where := range processStarts(t, p) {
			found[site] = append(found[site], where...)
		}
		for site := range nixenvAssignments(p) {
			envFromNixenv[site] = true
		}
	}
	var names []string
	for site := range found {
		names = append(names, site)
	}
	sort.Strings(names)
	for _, site := range names {
		_, nix := nixSites[site]
		_, other := otherSites[site]
		switch {
		case nix && !envFromNixenv[site]:
			t.Errorf("%s runs Nix but does not set the command's Env from nixenv (%s)", site, strings.Join(found[site], ", "))
		case !nix && !other:
			t.Errorf("%s starts a process (%s) and is in neither table of this test: run Nix through nixinstall.Nix.Command "+
				"(its environment comes from nixenv), or add the site to otherSites with why it is not Nix", site, strings.Join(found[site], ", "))
		}
	}
	for _, table := range []map[string]string{nixSites, otherSites} {
		for site := range table {
			if _, ok := found[site]; !ok {
				t.Errorf("%s is listed but starts no process any more: remove it from the table", site)
			}
		}
	}
}

// goPackage is what `go list -json` says of a package.
type goPackage struct {
	ImportPath, Dir, Export string
	GoFiles                 []string
	Module                  *struct{ Path string }
	Standard                bool
}

// scanned is a module package, parsed and type-checked.
type scanned struct {
	rel   string // its directory relative to the module root
	files []*ast.File
	fset  *token.FileSet
	info  *types.Info
}

// modulePackages type-checks the product's packages against the export
// data `go list -export` gives for their dependencies.
func modulePackages(t *testing.T) []scanned {
	t.Helper()
	root := testenv.RepoRoot()
	cmd := exec.Command("go", "list", "-deps", "-export", "-json", "./cmd/...", "./internal/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	exports := map[string]string{}
	var own []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Path == "github.com/nix-buildpack/nix-buildpack" {
			own = append(own, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if f := exports[path]; f != "" {
			return os.Open(f)
		}
		return nil, fmt.Errorf("no export data for %s", path)
	})
	var pkgs []scanned
	for _, p := range own {
		rel, _ := filepath.Rel(root, p.Dir)
		if rel == "internal/testenv" {
			continue // test support: runs the host's nix to lock test flakes
		}
		s := scanned{rel: rel, fset: fset, info: &types.Info{Uses: map[*ast.Ident]types.Object{}, Types: map[ast.Expr]types.TypeAndValue{}}}
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			s.files = append(s.files, f)
		}
		if _, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, s.files, s.info); err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		pkgs = append(pkgs, s)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages of the module", len(pkgs))
	}
	return pkgs
}

// starters are the functions that start a process, by package and name.
var starters = map[string]bool{
	"os/exec.Command": true, "os/exec.CommandContext": true,
	"syscall.Exec": true, "syscall.ForkExec": true, "syscall.StartProcess": true,
	"os.StartProcess": true, "golang.org/x/sys/unix.Exec": true,
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount.View.Command": true,
}

// processStarts maps each enclosing function of a process start in p to
// the positions of its starts.
func processStarts(t *testing.T, p scanned) map[string][]string {
	sites := map[string][]string{}
	for _, f := range p.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			site := p.rel + "." + funcName(fd)
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				var what string
				switch n := n.(type) {
				case *ast.CallExpr:
					what = calleeName(p.info, n.Fun)
					if !starters[what] {
						return true
					}
				case *ast.CompositeLit:
					tv, ok := p.info.Types[n]
					if !ok || types.TypeString(tv.Type, nil) != "os/exec.Cmd" {
						return true
					}
					what = "os/exec.Cmd{}"
				default:
					return true
				}
				sites[site] = append(sites[site], fmt.Sprintf("%s at %s", what, p.fset.Position(n.Pos())))
				return true
			})
		}
	}
	return sites
}

// nixenvAssignments lists the functions of p that assign X.Env = nixenv.F(...).
func nixenvAssignments(p scanned) map[string]bool {
	sites := map[string]bool{}
	for _, f := range p.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				as, ok := n.(*ast.AssignStmt)
				if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
					return true
				}
				sel, ok := as.Lhs[0].(*ast.SelectorExpr)
				call, isCall := as.Rhs[0].(*ast.CallExpr)
				if ok && sel.Sel.Name == "Env" && isCall && strings.HasPrefix(calleeName(p.info, call.Fun), "github.com/nix-buildpack/nix-buildpack/internal/nixenv.") {
					sites[p.rel+"."+funcName(fd)] = true
				}
				return true
			})
		}
	}
	return sites
}

// calleeName is pkg.Func or pkg.Type.Method for a called function.
func calleeName(info *types.Info, fun ast.Expr) string {
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return ""
	}
	fn, ok := info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() == nil {
		return ""
	}
	if recv := fn.Type().(*types.Signature).Recv(); recv != nil {
		typ := recv.Type()
		if ptr, ok := typ.(*types.Pointer); ok {
			typ = ptr.Elem()
		}
		if named, ok := typ.(*types.Named); ok {
			return fn.Pkg().Path() + "." + named.Obj().Name() + "." + fn.Name()
		}
	}
	return fn.Pkg().Path() + "." + fn.Name()
}

// funcName is Func or Type.Method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
