"""``civiscan banner-policy``: print a starter policy for the banner check."""

from __future__ import annotations

import click

STARTER = """\
policy: {id: banners, version: "1", title: Banner policy}
rules:
  - id: no-version-banner
    title: Greetings hide versions
    severity: medium
    rationale: Versions help attackers pick exploits.
    remediation: Configure the service to send a generic greeting.
    checks: [{check: banner.no_version, options: {port: %d}}]
"""


@click.command("banner-policy")
@click.option("--port", type=click.IntRange(1, 65535), default=25, show_default=True)
def banner_policy(port: int) -> None:
    """Print a starter policy that checks the greeting on PORT."""
    click.echo(STARTER % port, nl=False)
