package settings

import "testing"

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"file:///var/cache/nix", "file:///var/cache/nix"},
		{"https://cache.example/nix", "https://cache.example/nix"},
		{"http://user:PASS@host/", "http://user:xxxxx@host/"},
		{"https://TOKEN@host/nix", "https://xxxxx@host/nix"},
		{"http://host/?token=T0KEN", "http://host/?token=xxxxx"},
		{"http://host/?Token=T0KEN&priority=30", "http://host/?Token=xxxxx&priority=30"},
		{"s3://bucket/apps?region=eu-west-1&endpoint=http://127.0.0.1:7070&compression=zstd",
			"s3://bucket/apps?region=eu-west-1&endpoint=http://127.0.0.1:7070&compression=zstd"},
		{"s3://bucket?secret=S3CRET&key=K3Y&sig=S1G&password=PW&X-Amz-Signature=AMZ",
			"s3://bucket?secret=xxxxx&key=xxxxx&sig=xxxxx&password=xxxxx&X-Amz-Signature=xxxxx"},
		{"s3://bucket?endpoint=http://ak:SK@127.0.0.1:7070", "s3://bucket?endpoint=http://ak:xxxxx@127.0.0.1:7070"},
		{"http://host/?BARET0KEN", "http://host/?xxxxx"},
		{"http://host/#FRAGSECRET", "http://host/#xxxxx"},
		{"user:PASS@host", "user:xxxxx"},
		{"PASS@host", "xxxxx"},
		{"http://host/%zzPASS", "xxxxx"},
		{"", "xxxxx"},
	} {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
