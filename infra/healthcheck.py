"""Container health check: `python -m infra.healthcheck http://127.0.0.1:8001/health/ready`.

The slim image has no curl or wget; this needs only the standard library. Exit 0 on a 2xx answer,
1 otherwise (503 from /health/ready, connection refused, timeout), printing why, which
`docker inspect` shows in the container's health log.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def check(url: str, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    if not url.startswith(("http://", "https://")):
        return False, f"not an http(s) URL: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return True, f"{response.status} {response.read(500).decode(errors='replace')}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read(500).decode(errors='replace')}"
    except (OSError, ValueError) as exc:
        return False, f"unreachable: {exc}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m infra.healthcheck URL", file=sys.stderr)
        return 2
    healthy, detail = check(args[0])
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
