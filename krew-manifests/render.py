#!/usr/bin/env python3
"""make dist: renders the krew manifests of this folder into DIST/krew/ for the archives in DIST.

Each platform whose archive (opsagent-vVERSION-OS-ARCH.tar.gz) was built gets its real sha256;
platforms without an archive are left out of the rendered manifest. Text only: the manifests here
keep one shape (selector, uri, sha256, bin per platform), so no YAML library is needed.
"""
import hashlib
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
dist, version = sys.argv[1], sys.argv[2]
out_dir = os.path.join(dist, "krew")
os.makedirs(out_dir, exist_ok=True)
rendered = 0
for name in sorted(os.listdir(here)):
    if not name.endswith(".yaml"):
        continue
    text = open(os.path.join(here, name)).read().replace("v0.1.0", f"v{version}")
    head, _, platforms = text.partition("  platforms:\n")
    blocks = re.split(r"(?m)^(?=  - selector:)", platforms)
    kept = []
    for block in blocks:
        if not block.strip():
            continue
        os_ = re.search(r"os: (\w+)", block).group(1)
        arch = re.search(r"arch: (\w+)", block).group(1)
        archive = os.path.join(dist, f"opsagent-v{version}-{os_}-{arch}.tar.gz")
        if not os.path.exists(archive):
            continue
        digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
        kept.append(re.sub(r'sha256: "[0-9a-f]{64}"', f'sha256: "{digest}"', block))
    if not kept:
        sys.exit(f"render: no archive in {dist} for {name}")
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(head + "  platforms:\n" + "".join(kept))
    rendered += 1
print(f"rendered {rendered} krew manifest(s) into {out_dir}")
