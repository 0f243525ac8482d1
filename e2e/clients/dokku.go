package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DokkuPort is the PORT Dokku gives a herokuish app's web process.
const DokkuPort = 5000

// UseTgz names the packaged tarball in the app's .buildpacks file, by the
// loopback URL the build container serves it on (what `dokku
// buildpacks:set APP URL` writes).
func (e *Env) UseTgz(a *App) error {
	return os.WriteFile(filepath.Join(a.In, "app", ".buildpacks"), []byte(loopbackBase+e.Tgz+"\n"), 0o644)
}

// DokkuBuild builds the app as Dokku's builder-herokuish plugin does: a
// container of the herokuish image, the app's source in /tmp/app (which
// herokuish imports into /app), its config vars as files in /tmp/env
// (`dokku config`), the app's cache directory at /tmp/cache, and
// USER=herokuishuser, runs herokuish's /build as root (herokuish drops to
// that user for the buildpack), which installs the buildpack .buildpacks
// names and runs bin/detect, bin/compile and bin/release. The container is
// then committed as the app's image. It returns the build's output.
func (e *Env) DokkuBuild(a *App, cache, image string) (string, error) {
	name := "nixbp-dokku-build-" + a.Name
	script := strings.Join([]string{
		"set -e",
		"mkdir -p /tmp/app /tmp/env",
		"cp -a " + inDir + "/app/. /tmp/app/",
		"cp -a " + inDir + "/env/. /tmp/env/",
		serveBuildpacks,
		"exec /build",
	}, "\n")
	_, _ = e.docker(time.Minute, "rm", "-f", name)
	args := append([]string{"run", "--name", name, "--network", "none", "-e", "USER=herokuishuser", "-v", cache + ":/tmp/cache"}, e.mounts(a.In)...)
	out, err := e.docker(45*time.Minute, append(args, e.Herokuish, "/bin/bash", "-c", script)...)
	defer func() { _, _ = e.docker(time.Minute, "rm", "-f", name) }()
	if err != nil {
		return out, err
	}
	if _, err := e.docker(5*time.Minute, "commit", name, image); err != nil {
		return out, err
	}
	return out, nil
}

// DokkuTest runs `herokuish buildpack test` (what GitLab's Auto Test runs,
// and herokuish's Heroku CI support) on the app in a container of the
// herokuish image, set up as DokkuBuild's. It returns its output.
func (e *Env) DokkuTest(a *App, cache string) (string, error) {
	script := strings.Join([]string{
		"set -e",
		"mkdir -p /tmp/app /tmp/env",
		"cp -a " + inDir + "/app/. /tmp/app/",
		"cp -a " + inDir + "/env/. /tmp/env/",
		serveBuildpacks,
		"exec /bin/herokuish buildpack test",
	}, "\n")
	args := append([]string{"run", "--rm", "--network", "none", "-e", "USER=herokuishuser", "-v", cache + ":/tmp/cache"}, e.mounts(a.In)...)
	return e.docker(45*time.Minute, append(args, e.Herokuish, "/bin/bash", "-c", script)...)
}

// DokkuStart starts the app's image as Dokku does: `/start web` with PORT
// set; herokuish sources .profile.d and runs the Procfile's web line as
// the app's user.
func (e *Env) DokkuStart(image string) (*Running, error) {
	out, err := e.docker(5*time.Minute, "run", "-d", "--network", "none", "-e", fmt.Sprintf("PORT=%d", DokkuPort), image, "/start", "web")
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	return &Running{e: e, ID: lastLine(out), Port: DokkuPort}, nil
}
