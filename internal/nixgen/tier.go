package nixgen

// Tiers are Hop3's reproducibility tiers of the templates (ADR 008's
// table, defined by its ADR 058), which Hop3 derives from the template
// and wants in front of the operator: a tier-3 app is deployed on trust in
// its publisher.
var tiers = map[string]int{
	"nixpkgs-wrapper": 1,
	"php-app":         2, "python-venv": 2, "go-source": 2, "node-pnpm-install": 2, "ruby-bundler": 2, "java-gradle": 2,
	"node-prebuilt": 3, "java-war": 3, "prebuilt-binary": 3, "prebuilt-archive": 3,
}

var tierNotes = map[int]string{
	1: "wraps a package the pinned nixpkgs builds",
	2: "built from source, its dependencies fetched by hash and the build offline",
	3: "an upstream prebuilt artefact fetched by hash: deployed on trust in its publisher",
}

// Tier is template's reproducibility tier in Hop3's taxonomy (1 to 3) and
// what it means, for the build log; 0 and "" for an unknown template.
func Tier(template string) (int, string) {
	t := tiers[template]
	return t, tierNotes[t]
}
