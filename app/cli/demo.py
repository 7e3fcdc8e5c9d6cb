"""`flagbridge demo`: the demo world of the 2018 Jakarta sub-regional meeting."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import load_key_ring
from app.cli.common import cli_actor, command, emit, in_transaction
from app.cli.demo_flags import create_sample_flags
from app.cli.demo_history import create_history
from app.config import get_settings
from app.models import Organization
from app.orgs import service
from app.orgs.schemas import ClientCreate, OrganizationCreate
from app.stats import publication

AGENCIES = [
    ("ID", "Indonesia: National Counter-Terrorism Agency (BNPT)"),
    ("AU", "Australia: Department of Home Affairs"),
    ("BN", "Brunei Darussalam: Internal Security Department"),
    ("MY", "Malaysia: Royal Malaysia Police, Special Branch Counter-Terrorism Division"),
    ("MM", "Myanmar: Ministry of Home Affairs"),
    ("NZ", "New Zealand: Department of Internal Affairs, Digital Safety"),
    ("PH", "Philippines: Anti-Terrorism Council"),
    ("SG", "Singapore: Internal Security Department"),
    ("TH", "Thailand: Ministry of Digital Economy and Society"),
]
PLATFORMS = [
    ("twitter", "Twitter"),
    ("facebook", "Meta (Facebook)"),
    ("youtube", "YouTube"),
]
OBSERVER = "Sub-Regional Counter-Terrorism Working Group (dashboards)"
OPERATOR = "FlagBridge Operations"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the demo command."""
    command(
        sub,
        "demo",
        cmd_demo,
        help="create the demo world and print its credentials",
        description="Create the nine member-state agencies of the 2018 Jakarta meeting, "
        "Twitter and two more platforms, an observer and an operator, each with an API "
        "client, a few hundred live sample flags and two years of history (closed flags, some "
        "contested, with statements of reasons, and platform reports), and print their "
        "credentials. Run again, it creates nothing and prints the saved credentials.",
    )


async def _build(session: AsyncSession) -> dict[str, Any]:
    existing = (await session.scalars(select(Organization.name))).all()
    world = {} if OPERATOR in existing else await _create_world(session)
    # Its own check, so a demo world made before the history existed gets it too.
    history = await create_history(
        session,
        agency_names=[name for _, name in AGENCIES],
        platform_names=[name for _, name in PLATFORMS],
    )
    if world and history:
        world["history"] = history
    # The history spans past periods: publish their reports, so /transparency has some.
    settings = get_settings()
    await publication.publish_due_in(
        session=session,
        ring=load_key_ring(settings),
        policy=publication.Policy.from_settings(settings),
        actor_label=cli_actor(),
    )
    return world


async def _create_world(session: AsyncSession) -> dict[str, Any]:
    label = cli_actor()
    specs: list[dict[str, Any]] = [
        {"kind": "agency", "name": name, "country": cc} for cc, name in AGENCIES
    ]
    specs += [{"kind": "platform", "name": name, "platform": slug} for slug, name in PLATFORMS]
    specs += [{"kind": "observer", "name": OBSERVER}, {"kind": "operator", "name": OPERATOR}]
    world: dict[str, Any] = {"organizations": []}
    for spec in specs:
        org = await service.create_organization(
            session=session, actor=None, actor_label=label, data=OrganizationCreate(**spec)
        )
        client, secret = await service.create_client(
            session=session,
            actor=None,
            actor_label=label,
            data=ClientCreate(organization_id=org.id, name=f"{org.name} (demo)"),
        )
        world["organizations"].append(
            {
                "id": str(org.id),
                "kind": org.kind,
                "name": org.name,
                "country": org.country,
                "platform": org.platform,
                "client_id": str(client.id),
                "client_secret": secret,
                "scopes": client.scopes,
            }
        )
    world["flags"] = await create_sample_flags(session, world["organizations"])
    return world


def _human(world: dict[str, Any], base_url: str) -> str:
    lines = ["FlagBridge demo world — credentials (keep them; secrets are stored hashed):", ""]
    if world.get("flags"):
        counts = ", ".join(f"{n} {status}" for status, n in sorted(world["flags"].items()))
        lines += [f"sample flags: {counts}"]
        if world.get("history"):
            h = world["history"]
            lines.append(
                f"history: {h['history_flags']} settled flags ({h['contests']} contested, "
                f"{h['statements']} statements of reasons) and {h['platform_reports']} "
                f"platform reports over the last {h['months']} months"
            )
        lines.append("")
    for org in world["organizations"]:
        where = org["country"] or org["platform"] or ""
        lines.append(f"{org['kind']:<9} {where:<9} {org['name']}")
        lines.append(f"          client_id={org['client_id']}")
        lines.append(f"          client_secret={org['client_secret']}")
    agency = next(o for o in world["organizations"] if o["kind"] == "agency")
    twitter = next(o for o in world["organizations"] if o.get("platform") == "twitter")
    observer = next(o for o in world["organizations"] if o["kind"] == "observer")
    field = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"

    def token(name: str, org: dict[str, Any]) -> str:
        return (
            f"  {name}=$(curl -s {base_url}/oauth/token -d grant_type=client_credentials "
            f"-d client_id={org['client_id']} -d client_secret={org['client_secret']} "
            f"| {field} access_token)"
        )

    # The README's tour flags other handles, so both can be pasted into one world.
    lines += [
        "",
        "Try it (agency: flag an account; platform: read the feed, acknowledge, report;",
        "observer: read the statistics):",
        token("A", agency),
        token("P", twitter),
        token("O", observer),
        f'  FLAG=$(curl -s {base_url}/v1/flags -H "Authorization: Bearer $A" '
        '-H \'Content-Type: application/json\' -d \'{"platform": "twitter", '
        '"account": {"handle": "@demo_try_acct"}, "category": "propaganda", '
        '"legal_basis": "Law No. 5/2018", "summary": "Shares recruitment videos", '
        f'"evidence": [{{"url": "https://evidence.example/1.png"}}]}}\' | {field} id)',
        f'  curl -s "{base_url}/v1/feed?wait=10" -H "Authorization: Bearer $P"',
        f'  curl -s -X POST {base_url}/v1/flags/$FLAG/ack -H "Authorization: Bearer $P"',
        f'  curl -s -X POST {base_url}/v1/flags/$FLAG/outcome -H "Authorization: Bearer $P" '
        "-H 'Content-Type: application/json' -d '{\"action\": \"account_suspended\"}'",
        f'  curl -s {base_url}/v1/stats/agencies -H "Authorization: Bearer $O"',
        f"  API docs: {base_url}/docs",
    ]
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    """Create (once) and print the demo world."""
    settings = get_settings()
    saved = settings.data_dir / "demo-credentials.json"
    world = in_transaction(_build)
    if world:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(world, fh, indent=2)
        world["created"] = True
    elif saved.exists():
        world = json.loads(saved.read_text())
        world["created"] = False
    else:
        world = {"organizations": [], "created": False}
    base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
    if not world["organizations"]:
        emit(args, world, "the demo world exists, but its saved credentials are gone")
        return 0
    emit(args, world, _human(world, base))
    return 0
