package cnb

import (
	"reflect"
	"testing"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

func TestWithCacheBinding(t *testing.T) {
	fromSettings := settings.Caches{Write: "s3://b", Credentials: &settings.Credentials{AccessKeyID: "env", SecretAccessKey: "env-secret"}, SecretKey: "env-key"}
	for _, tt := range []struct {
		name     string
		bindings libcnb.Bindings
		want     settings.Caches
	}{
		{name: "no binding", want: fromSettings},
		{name: "another type", bindings: libcnb.Bindings{{Type: "postgres", Secret: map[string]string{"access-key-id": "x"}}}, want: fromSettings},
		{
			name:     "S3 keys and the signing key, trimmed",
			bindings: libcnb.Bindings{{Type: CacheBindingType, Secret: map[string]string{"access-key-id": " AK\n", "secret-access-key": "SK\n", "session-token": "ST", "secret-key": "k:abc\n"}}},
			want:     settings.Caches{Write: "s3://b", Credentials: &settings.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK", SessionToken: "ST"}, SecretKey: "k:abc"},
		},
		{
			name:     "the signing key alone keeps the settings' S3 keys",
			bindings: libcnb.Bindings{{Type: CacheBindingType, Secret: map[string]string{"secret-key": "k:abc"}}},
			want:     settings.Caches{Write: "s3://b", Credentials: fromSettings.Credentials, SecretKey: "k:abc"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := withCacheBinding(fromSettings, tt.bindings); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
