# Writes k3s's own containerd configuration template (its v3 template in
# pkg/agent/templates/templates.go) with two changes:
#  - restrict_oom_score_adj always on: root on these machines lacks
#    CAP_SYS_RESOURCE, so the pod sandbox's oom_score_adj -998 is refused and
#    every pod fails ("nsexec: failed to update /proc/self/oom_score_adj:
#    Permission denied"); k3s turns it on only in a user namespace;
#  - the CNI plugins and configuration from the given directories (no
#    flannel here: Debian's containernetworking-plugins and our bridge).
# Usage: python3 containerd-template.py TEMPLATES.GO CNI_BIN_DIR CNI_CONF_DIR > config-v3.toml.tmpl
import re
import sys

src = open(sys.argv[1]).read()
t = src.split("const ContainerdConfigTemplateV3 = `", 1)[1].split("`", 1)[0]
old = "{{ if .IsRunningInUserNS }}\n  disable_apparmor = true\n  restrict_oom_score_adj = true\n{{ end }}"
if old not in t:
    sys.exit("containerd-template.py: k3s's template has no user namespace block as expected: update this script")
t = t.replace(old, "  restrict_oom_score_adj = true\n{{ if .IsRunningInUserNS }}\n  disable_apparmor = true\n{{ end }}")
t, n = re.subn(r"\{\{- if or \.NodeConfig\.AgentConfig\.CNIBinDir .*?\n\{\{ end \}\}\n",
               "[plugins.'io.containerd.cri.v1.runtime'.cni]\n  bin_dirs = [\"%s\"]\n  conf_dir = \"%s\"\n" % (sys.argv[2], sys.argv[3]),
               t, count=1, flags=re.S)
if n != 1:
    sys.exit("containerd-template.py: k3s's template has no CNI block as expected: update this script")
sys.stdout.write(t)
