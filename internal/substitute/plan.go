package substitute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/nix-community/go-nix/pkg/derivation"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
)

// Plan is what a build of a derivation needs from the substituters, decided
// as Nix's scheduler decides it (DerivationGoal): an output that is valid
// is used; a derivation whose missing outputs a substituter holds is
// substituted, and its inputs are not needed; any other is built, so its
// input derivations' outputs and its input sources are needed in turn.
type Plan struct {
	// Substitute are the store paths to fetch (the closure of each comes
	// with it), with the substituter that holds each.
	Substitute map[string]*cache.Cache
	// Build are the derivations Nix is left to build.
	Build []string
	// Valid counts the needed outputs and sources already valid.
	Valid int
	// Skipped are derivations left to Nix whole, and why: one that cannot
	// be read here (a floating content-addressed one, a malformed file).
	Skipped map[string]string
}

// planner walks a derivation graph top down.
type planner struct {
	storeDir string
	store    Store
	subs     []*cache.Cache
	log      func(format string, args ...any)
	// down are substituters that failed, true for those unreachable: not
	// asked again.
	down map[*cache.Cache]bool
	// unavailable are paths a substituter holds that could not be
	// installed (a refused reference, a corrupt NAR): not held.
	unavailable map[string]bool
	// wanted are the outputs each derivation must provide; done, those
	// already decided.
	wanted map[string]map[string]bool
	done   map[string]map[string]bool
	plan   Plan
}

// makePlan decides, level by level from drv, what to substitute and what
// Nix must build. Each level costs one validity query (only for paths on
// disk) and one narinfo lookup per missing path and substituter.
func makePlan(ctx context.Context, store Store, subs []*cache.Cache, drv string,
	unavailable map[string]bool, down map[*cache.Cache]bool, logf func(string, ...any)) (*Plan, error) {
	p := &planner{storeDir: store.Dir(), store: store, subs: subs, log: logf, down: down, unavailable: unavailable,
		wanted: map[string]map[string]bool{}, done: map[string]map[string]bool{},
		plan: Plan{Substitute: map[string]*cache.Cache{}, Skipped: map[string]string{}}}
	level := []request{{drv: drv}} // no outputs named: all of them, as nix-build realises
	for len(level) > 0 {
		next, err := p.level(ctx, level)
		if err != nil {
			return nil, err
		}
		level = next
	}
	slices.Sort(p.plan.Build)
	p.plan.Build = slices.Compact(p.plan.Build)
	return &p.plan, nil
}

// request asks for outputs of a derivation (none named: all).
type request struct {
	drv     string
	outputs []string
}

// node is one derivation of a level, read.
type node struct {
	path     string
	drv      *derivation.Derivation
	outputs  map[string]string // wanted output name -> store path, not yet decided
	canSubst bool
}

func (p *planner) level(ctx context.Context, reqs []request) ([]request, error) {
	var nodes []*node
	index := map[string]*node{}
	for _, r := range reqs {
		n := index[r.drv]
		if n == nil {
			d, err := readDerivation(p.storeDir, r.drv)
			if err != nil {
				p.plan.Skipped[r.drv] = err.Error()
				continue
			}
			n = &node{path: r.drv, drv: d, outputs: map[string]string{}, canSubst: substitutesAllowed(d)}
			index[r.drv] = n
			nodes = append(nodes, n)
		}
		names := r.outputs
		if len(names) == 0 {
			for name := range n.drv.Outputs {
				names = append(names, name)
			}
		}
		for _, name := range names {
			o, ok := n.drv.Outputs[name]
			if !ok || o.Path == "" {
				p.plan.Skipped[r.drv] = fmt.Sprintf("output %q has no store path here (a floating content-addressed derivation?)", name)
				continue
			}
			if p.done[r.drv][name] {
				continue
			}
			if p.done[r.drv] == nil {
				p.done[r.drv] = map[string]bool{}
			}
			p.done[r.drv][name] = true
			n.outputs[name] = o.Path
		}
	}
	var paths []string
	for _, n := range nodes {
		for _, o := range n.outputs {
			paths = append(paths, o)
		}
	}
	missing, err := p.missing(paths)
	if err != nil {
		return nil, err
	}
	held, err := p.query(ctx, missing)
	if err != nil {
		return nil, err
	}
	var next []request
	var sources []string
	for _, n := range nodes {
		var lacking []string
		substitutable := n.canSubst
		for _, o := range n.outputs {
			if !missing[o] {
				continue
			}
			lacking = append(lacking, o)
			if held[o] == nil {
				substitutable = false
			}
		}
		switch {
		case len(lacking) == 0:
		case substitutable:
			for _, o := range lacking {
				p.plan.Substitute[o] = held[o]
			}
		default:
			p.plan.Build = append(p.plan.Build, n.path)
			for d, outs := range n.drv.InputDerivations {
				next = append(next, request{drv: d, outputs: outs})
			}
			sources = append(sources, n.drv.InputSources...)
		}
	}
	if err := p.sources(ctx, sources); err != nil {
		return nil, err
	}
	return next, nil
}

// sources plans the input sources of derivations to build: each must be
// valid, or substituted (Nix substitutes them too).
func (p *planner) sources(ctx context.Context, sources []string) error {
	slices.Sort(sources)
	sources = slices.Compact(sources)
	missing, err := p.missing(sources)
	if err != nil {
		return err
	}
	held, err := p.query(ctx, missing)
	if err != nil {
		return err
	}
	for o, c := range held {
		p.plan.Substitute[o] = c
	}
	return nil
}

// missing returns the set of paths that are not valid, counting the valid
// ones; only paths on disk are asked about.
func (p *planner) missing(paths []string) (map[string]bool, error) {
	out := map[string]bool{}
	var onDisk []string
	for _, o := range paths {
		if _, ok := p.plan.Substitute[o]; ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(p.storeDir, filepath.Base(o))); err == nil {
			onDisk = append(onDisk, o)
		}
		out[o] = true
	}
	if len(onDisk) == 0 {
		return out, nil
	}
	valid, err := p.store.Valid(onDisk)
	if err != nil {
		return nil, fmt.Errorf("unable to ask the Nix database which store paths are valid\n%w", err)
	}
	for o := range valid {
		if valid[o] {
			delete(out, o)
			p.plan.Valid++
		}
	}
	return out, nil
}

// query asks the substituters, in order, which of paths they hold; a
// substituter that fails is dropped for the rest of the plan, as Nix
// disables one that fails.
func (p *planner) query(ctx context.Context, paths map[string]bool) (map[string]*cache.Cache, error) {
	held := map[string]*cache.Cache{}
	ask := make([]string, 0, len(paths))
	for o := range paths {
		if !p.unavailable[o] {
			ask = append(ask, o)
		}
	}
	slices.Sort(ask)
	for _, c := range p.subs {
		if len(ask) == 0 {
			break
		}
		if _, ok := p.down[c]; ok {
			continue
		}
		found, err := c.Query(ctx, ask)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			p.log("warning: %v; not asking it again in this build", err)
			p.down[c] = errors.Is(err, cache.ErrUnreachable)
		}
		var rest []string
		for _, o := range ask {
			if found[o] {
				held[o] = c
			} else {
				rest = append(rest, o)
			}
		}
		ask = rest
	}
	return held, nil
}

// readDerivation reads a .drv file from the store directory on disk.
func readDerivation(storeDir, drv string) (*derivation.Derivation, error) {
	f, err := os.Open(filepath.Join(storeDir, filepath.Base(drv)))
	if err != nil {
		return nil, fmt.Errorf("unable to read %s\n%w", drv, err)
	}
	defer f.Close()
	d, err := derivation.ReadDerivation(f)
	if err != nil {
		return nil, fmt.Errorf("unable to parse %s\n%w", drv, err)
	}
	return d, nil
}

// substitutesAllowed is Nix's DerivationOptions::substitutesAllowed with
// always-allow-substitutes off: the allowSubstitutes attribute, true when
// absent ("1" or a JSON true with structured attributes; nixpkgs sets it
// false on trivial builders such as runCommandLocal and writeText).
func substitutesAllowed(d *derivation.Derivation) bool {
	if js, ok := d.Env["__json"]; ok {
		var attrs struct {
			AllowSubstitutes *bool `json:"allowSubstitutes"`
		}
		if json.Unmarshal([]byte(js), &attrs) != nil || attrs.AllowSubstitutes == nil {
			return true
		}
		return *attrs.AllowSubstitutes
	}
	v, ok := d.Env["allowSubstitutes"]
	return !ok || v == "1"
}
