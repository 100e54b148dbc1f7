"""Refuse committed private keys: PEM blocks and raw 32-byte hex keys outside the allowlist.

The allowlist holds anvil's public development keys (derived from the well-known test
mnemonic), which local-only code uses on purpose.
"""

from __future__ import annotations

import re
import subprocess
import sys

PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
HEX_KEY = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{64}(?![0-9a-fA-F])")
ASSIGNED = re.compile(r"(private_?key|secret)\s*[:=]\s*['\"]?(0x[0-9a-fA-F]{64})", re.I)
ANVIL_DEV_KEYS = {
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
}


def main() -> int:
    """Scan tracked files; exit 1 listing each finding."""
    files = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    findings = []
    for name in files:
        try:
            text = open(name, encoding="utf-8").read()  # noqa: SIM115
        except (UnicodeDecodeError, OSError):
            continue
        if PEM.search(text):
            findings.append(f"{name}: PEM private key block")
        for match in ASSIGNED.finditer(text):
            if match.group(2).lower() not in ANVIL_DEV_KEYS:
                findings.append(f"{name}: private key assigned to {match.group(1)}")
    for finding in findings:
        print(finding)
    print(f"secret scan: {len(files)} files, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
