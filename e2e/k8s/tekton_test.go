package k8s_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/e2e/k8s"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// catalogBash is the catalog task's bash image, the one thing the test
// changes in it (no outside registry is reachable here).
var catalogBash = regexp.MustCompile(`docker\.io/library/bash:5\.1\.4@sha256:[0-9a-f]{64}`)

// TestTektonCatalogTask builds the Hop3 docs' static site (static-hello:
// `{ pkgs ? import <nixpkgs> {} }`, runtime.json's "static" worker, with the
// nixpkgs-shaped test channel in the app) and a web app (hello-web) with the
// Tekton catalog's buildpacks task 0.6, unmodified but for its bash image,
// the source on a PersistentVolume, the builder kpack made from our .cnb.
// static-hello gets its settings through the task's ENV_VARS; hello-web
// through PLATFORM_DIR, a projected volume holding the S3 closure cache's
// binding (from a Secret: no credential in any log or blob) and the
// settings (from a ConfigMap), as docs/tekton.md shows. Each image runs as a pod under Tekton's default (the kubelet's:
// Unconfined seccomp, user namespaces allowed) and answers HTTP; the build
// log and the launcher say /nix went through a user namespace. The same
// image in a pod under RuntimeDefault seccomp (user namespaces refused, as
// Pod Security's restricted level requires) answers through proot.
func TestTektonCatalogTask(t *testing.T) {
	t.Parallel()
	c := need(t)
	b := nixBuilder(t, c)
	task, err := os.ReadFile(filepath.Join("testdata", "tekton-catalog", "buildpacks-0.6.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(catalogBash.FindAll(task, -1)); n != 2 {
		t.Fatalf("the catalog task names its bash image %d times, want 2 (prepare, results)", n)
	}
	if err := c.Apply(catalogBash.ReplaceAllString(string(task), c.Reg+"/bash:5")); err != nil {
		t.Fatal(err)
	}
	s3, cache := sharedCache(t, c)
	for _, app := range []struct {
		name string
		// channel puts the test channel in the app as nixpkgs.
		channel bool
		// env is the settings; through ENV_VARS, or with binding through
		// a projected PLATFORM_DIR with the cache's binding.
		env     []string
		binding bool
		want    string
	}{
		{"static-hello", true, []string{"BP_NIX_SUBSTITUTERS=none", "BP_NIX_NIXPKGS=nixpkgs"}, false, "Hello from Nix!"},
		{"hello-web", false, []string{"BP_NIX_SUBSTITUTERS=none", "BP_NIX_CACHE=" + cache}, true, "Hello from hello-web, built by Nix\n"},
	} {
		t.Run(app.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := docker.App(testenv.RepoRoot(), app.name, dir); err != nil {
				t.Fatal(err)
			}
			if app.channel {
				if err := testenv.Channel(filepath.Join(dir, "nixpkgs"), "/bin/busybox"); err != nil {
					t.Fatal(err)
				}
			}
			image := c.Reg + "/tekton/" + runID + "/" + app.name
			digest, log := catalogRun(t, c, app.name, dir, image, b.Image, app.env, app.binding)
			if app.binding {
				// The kpack tests may have pushed hello-web already: then it
				// is restored from the cache, else pushed to it.
				if !s3RoundTrip.MatchString(log) {
					t.Errorf("the build neither pushed to nor restored from the S3 cache with the binding's credentials:\n%s", log)
				}
				t.Logf("S3 cache through the binding: %s", plain(s3RoundTrip.FindString(log)))
				for _, secret := range []string{s3.Secret, s3.Access} {
					if strings.Contains(log, secret) {
						t.Errorf("the TaskRun's log holds a credential of the binding")
					}
				}
			}
			if got := buildStrategy(log); got != "userns" {
				t.Errorf("the build's /nix went through %q, want userns (Tekton's pods are Unconfined):\n%s", got, log)
			}
			t.Logf("build: /nix through %s; %s", buildStrategy(log), plain(sandboxLine.FindString(log)))
			ref := image + "@" + digest
			for _, run := range []struct{ seccomp, want string }{{"", "userns"}, {"RuntimeDefault", "proot"}} {
				pod := serve(t, c, "tekton-"+app.name+"-"+strings.ToLower(or(run.seccomp, "default")), ref, run.seccomp, "/", app.want)
				if got := launchStrategy(pod); got != run.want {
					t.Errorf("%s under %s seccomp: the launcher showed /nix through %q, want %s:\n%s", ref, or(run.seccomp, "the default"), got, run.want, pod)
				}
				t.Logf("run under %s seccomp: %s", or(run.seccomp, "the default"), launchStrategyLine.FindString(pod))
			}
		})
	}
}

// catalogRun runs the catalog task on the source in dir (a hostPath
// PersistentVolume: the task's source workspace must outlive its steps) and
// returns the image's digest (the task's APP_IMAGE_DIGEST) and the pod's
// log. The settings env go through ENV_VARS, or with binding in a
// ConfigMap projected with the Secret nix-cache-s3 as the task's
// PLATFORM_DIR volume (env/<name> and bindings/nix-cache-s3/<key>).
func catalogRun(t *testing.T, c *k8s.Cluster, name, dir, image, builder string, env []string, binding bool) (string, string) {
	t.Helper()
	var vars []string
	platform := ""
	if binding {
		var data, items []string
		for _, e := range env {
			k, v, _ := strings.Cut(e, "=")
			data = append(data, fmt.Sprintf("%s: %q", k, v))
			items = append(items, fmt.Sprintf("{key: %s, path: env/%s}", k, k))
		}
		if err := c.Apply(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings-%s, namespace: default}\ndata: {%s}\n",
			name, strings.Join(data, ", "))); err != nil {
			t.Fatal(err)
		}
		platform = fmt.Sprintf(`    - {name: PLATFORM_DIR, value: nix-platform}
  podTemplate:
    volumes:
      - name: nix-platform
        projected:
          sources:
            - secret:
                name: nix-cache-s3
                items:
                  - {key: type, path: bindings/nix-cache-s3/type}
                  - {key: access-key-id, path: bindings/nix-cache-s3/access-key-id}
                  - {key: secret-access-key, path: bindings/nix-cache-s3/secret-access-key}
            - configMap:
                name: settings-%s
                items: [%s]
`, name, strings.Join(items, ", "))
	} else {
		for _, e := range env {
			vars = append(vars, fmt.Sprintf("%q", e))
		}
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: src-%[1]s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: %[2]q}
  claimRef: {name: src-%[1]s, namespace: default}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: src-%[1]s, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: src-%[1]s
  storageClassName: ""
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: build-%[1]s, namespace: default}
spec:
  taskRef: {name: buildpacks}
  workspaces:
    - {name: source, persistentVolumeClaim: {claimName: src-%[1]s}}
  params:
    - {name: APP_IMAGE, value: %[3]q}
    - {name: CACHE_IMAGE, value: "%[3]s-cache"}
    - {name: BUILDER_IMAGE, value: %[4]q}
    - {name: RUN_IMAGE, value: "%[5]s/nixbp/run:busybox"}
    - {name: ENV_VARS, value: [%[6]s]}
%[7]s`, name, dir, image, builder, c.Reg, strings.Join(vars, ", "), platform)
	if err := c.Delete("taskrun/build-"+name, "pvc/src-"+name, "pv/src-"+name); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(manifest); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, reason, msg, err := c.Condition("taskrun/build-"+name, "Succeeded", 15*time.Minute)
	pod, _ := c.Kubectl("get", "taskrun/build-"+name, "-o", "jsonpath={.status.podName}")
	log := c.Logs(pod)
	if err != nil || status != "True" {
		t.Fatalf("TaskRun build-%s: %s %s %s %v\n%s", name, status, reason, msg, err, log)
	}
	digest, err := c.Kubectl("get", "taskrun/build-"+name, "-o", `jsonpath={.status.results[?(@.name=="APP_IMAGE_DIGEST")].value}`)
	if err != nil || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("TaskRun build-%s: APP_IMAGE_DIGEST %q, %v", name, digest, err)
	}
	t.Logf("TaskRun build-%s (catalog buildpacks 0.6): %s in %s", name, image+"@"+digest, time.Since(start).Round(time.Second))
	return digest, log
}

// serve runs ref as a pod and checks that GET path answers 200 with want
// in its body; it returns the pod's log.
func serve(t *testing.T, c *k8s.Cluster, name, ref, seccomp, path, want string) string {
	t.Helper()
	pod, err := c.RunPod(name, ref, seccomp)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := c.Get("http://"+pod.IP+":8080"+path, 2*time.Minute)
	log := c.Logs(name)
	if err != nil || status != 200 || !strings.Contains(body, want) {
		t.Fatalf("GET %s on pod %s (%s) = %d %q, %v; want 200 with %q\n%s", path, name, ref, status, body, err, want, log)
	}
	t.Logf("pod %s (seccomp %s) answered GET %s: %q", name, or(seccomp, "default"), path, firstLine(body))
	return log
}

var (
	// s3RoundTrip is a line saying the build pushed to or restored from S3.
	s3RoundTrip = regexp.MustCompile(`(Pushed [1-9][0-9]* store paths|Restored [1-9][0-9]* store paths \([^)]*\) from s3://)[^\n]*`)
	// "Installed Nix 2.26.3 (...), /nix through proot /usr/bin/proot, in 5.5s"
	buildStrategyLine = regexp.MustCompile(`Installed Nix [^\n]*?\), /nix through (\w+)`)
	// sandboxLine says whether Nix's sandbox was on, and why not
	// (docs/sealed-builds.md).
	sandboxLine        = regexp.MustCompile(`Nix's sandbox: [^\n]*`)
	launchStrategyLine = regexp.MustCompile(`nixbp-launch: (?:/nix through (\w+)|no /nix needed: the closure is relocated to \S+ \((relocate)\))`)
)

// buildStrategy is how the build showed /nix, from its log.
func buildStrategy(log string) string {
	if m := buildStrategyLine.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// launchStrategy is how the launcher showed /nix: userns, proot, or
// relocate (no /nix needed).
func launchStrategy(log string) string {
	if m := launchStrategyLine.FindStringSubmatch(log); m != nil {
		return m[1] + m[2]
	}
	return ""
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return line
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// plain is a log line without its colours and its kubectl prefix.
func plain(line string) string {
	line = ansiEscape.ReplaceAllString(line, "")
	if i := strings.Index(line, "] "); strings.HasPrefix(line, "[") && i > 0 {
		line = line[i+2:]
	}
	return strings.TrimSpace(line)
}
