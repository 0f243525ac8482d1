package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CFPort is the PORT Diego gives an app's web process.
const CFPort = 8080

// vcapApplication is a VCAP_APPLICATION as Cloud Controller sets it at
// staging and run time (the fields a buildpack may read).
func vcapApplication(app string) string {
	b, _ := json.Marshal(map[string]any{"application_name": app, "name": app, "space_name": "e2e",
		"limits": map[string]int{"mem": 1024, "disk": 4096, "fds": 16384}})
	return string(b)
}

// ZipURL is the buildpack as `cf push -b URL` gives it: the packaged zip,
// served on the staging container's loopback. The builder downloads a
// buildpack URL only when it ends in .zip.
func (e *Env) ZipURL() string { return loopbackBase + e.Zip }

// CFStage stages the app as Diego runs Cloud Foundry's builder (and Kf its
// v2 buildpacks): the app's bits in /tmp/app and the previous staging's
// build artifacts cache (cache/output-cache, when there is one) extracted
// into /tmp/cache, both owned by vcap; the builder, run as vcap, downloads
// the buildpacks of order, detects (unless skipDetect, as with `cf push -b`)
// and compiles, and writes the droplet, result.json and the new artifacts
// cache, which are copied to out (and the cache to cache). Config vars
// are in the builder's environment, as `cf set-env` puts them. It returns
// the staging output.
func (e *Env) CFStage(a *App, cache, out string, order []string, skipDetect bool) (string, error) {
	for _, d := range []string{cache, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	builder := strings.Join([]string{"/tmp/lifecycle/builder", "-buildDir=/tmp/app", "-buildpacksDir=/tmp/buildpacks",
		"-buildArtifactsCacheDir=/tmp/cache", "-outputBuildArtifactsCache=/tmp/output-cache", "-outputDroplet=/tmp/droplet",
		"-outputMetadata=/tmp/result.json", "-buildpackOrder=" + strings.Join(order, ","),
		fmt.Sprintf("-skipDetect=%t", skipDetect), "-skipCertVerify=false"}, " ")
	script := strings.Join([]string{
		"set -e",
		"mkdir -p /tmp/app /tmp/cache",
		"cp -a " + inDir + "/app/. /tmp/app/",
		"if [ -f /cache/output-cache ]; then tar -xzf /cache/output-cache -C /tmp/cache; fi",
		"chown -R vcap:vcap /tmp/app /tmp/cache",
		serveBuildpacks,
		"cd /home/vcap",
		"setpriv --reuid=vcap --regid=vcap --init-groups -- " + builder,
		"cp /tmp/droplet /tmp/result.json /out/",
		"cp /tmp/output-cache /cache/output-cache",
	}, "\n")
	args := []string{"run", "--rm", "--network", "none", "-v", cache + ":/cache", "-v", out + ":/out",
		"-e", "HOME=/home/vcap", "-e", "USER=vcap", "-e", "LANG=C.UTF-8", "-e", "CF_STACK=cflinuxfs4", "-e", "MEMORY_LIMIT=1024m",
		"-e", "VCAP_APPLICATION=" + vcapApplication(a.Name), "-e", "VCAP_SERVICES={}"}
	for k, v := range a.Config {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, e.mounts(a.In)...)
	return e.docker(45*time.Minute, append(args, e.CFLinuxFS, "/bin/bash", "-c", script)...)
}

// CFResult is the part of the builder's result.json the tests read.
type CFResult struct {
	ProcessTypes      map[string]string `json:"process_types"`
	LifecycleMetadata struct {
		DetectedBuildpack string `json:"detected_buildpack"`
		Buildpacks        []struct {
			Key  string `json:"key"`
			Name string `json:"name"`
		} `json:"buildpacks"`
	} `json:"lifecycle_metadata"`
}

// ReadCFResult reads out/result.json.
func ReadCFResult(out string) (CFResult, error) {
	var r CFResult
	data, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

// CFStart runs the droplet in out as Diego runs an app instance: the
// droplet extracted into /home/vcap (the app at /home/vcap/app), then, as
// vcap in /home/vcap, CF's launcher with the process's start command
// (`launcher app "<command>" ""`), PORT and VCAP_APPLICATION set. The
// container's first process stays a shell, as Garden's init is the app's
// parent.
func (e *Env) CFStart(app, out, command string) (*Running, error) {
	script := strings.Join([]string{
		"set -e",
		"tar -xzf /droplet/droplet -C /home/vcap",
		"chown -R vcap:vcap /home/vcap",
		"cd /home/vcap",
		`setpriv --reuid=vcap --regid=vcap --init-groups -- /tmp/lifecycle/launcher app "$1" ""`,
	}, "\n")
	res, err := e.docker(5*time.Minute, "run", "-d", "--network", "none", "-v", out+":/droplet:ro",
		"-e", "HOME=/home/vcap", "-e", "USER=vcap", "-e", "LANG=C.UTF-8", "-e", fmt.Sprintf("PORT=%d", CFPort), "-e", "INSTANCE_INDEX=0",
		"-e", "VCAP_APPLICATION="+vcapApplication(app), "-e", "VCAP_SERVICES={}",
		e.CFLinuxFS, "/bin/bash", "-c", script, "bash", command)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, res)
	}
	return &Running{e: e, ID: lastLine(res), Port: CFPort}, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
