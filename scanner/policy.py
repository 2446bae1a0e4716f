"""Policies: loading, ``extends`` resolution, validation, and the resolved rule set.

The policy language is documented in docs/policy.md. Everything here is pure
except reading the policy files themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from . import pkgdata
from .errors import ConfigError, ConfigProblem, Position
from .models import Asset, AssetKind, Severity
from .options import suggest, validate_options
from .plugin import Check, CheckRequest, Registry
from .reader import Reader
from .yamlpos import PATH_CHARS, PosDict, PosList, Shape, load_bytes, quote, read_bytes

# The top level a file must have before anything in it is read or quoted.
POLICY_SHAPE = Shape("policy", ("policy", "rules"))
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
SEVERITIES = [s.value for s in Severity]
KINDS = [k.value for k in AssetKind]

DEFAULT_REMEDIATION_SLA: Mapping[str, int] = {"critical": 7, "high": 30, "medium": 90, "low": 180}
"""Days a failing finding may stay failing, per severity, unless a policy says otherwise;
``info`` has no deadline (docs/policy.md)."""
_SLA_DAYS = re.compile(r"^([0-9]{1,5})d$")
MAX_SLA_DAYS = 3650


@dataclass(frozen=True)
class AppliesTo:
    kinds: frozenset[AssetKind] = frozenset()
    tags: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()

    def matches(self, asset: Asset) -> bool:
        if self.kinds and asset.kind not in self.kinds:
            return False
        if self.tags and not (self.tags & set(asset.tags)):
            return False
        if self.departments and asset.department not in self.departments:
            return False
        return True

    def to_json(self) -> dict[str, list[str]]:
        return {
            "kinds": sorted(k.value for k in self.kinds),
            "tags": sorted(self.tags),
            "departments": sorted(self.departments),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppliesTo:
        return cls(
            frozenset(AssetKind(k) for k in data.get("kinds", ())),
            frozenset(data.get("tags", ())),
            frozenset(data.get("departments", ())),
        )


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    checks: tuple[CheckRequest, ...]
    policy: str
    rationale: str = ""
    remediation: str = ""
    applies_to: AppliesTo = AppliesTo()
    references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "policy": self.policy,
            "rationale": self.rationale,
            "remediation": self.remediation,
            "applies_to": self.applies_to.to_json(),
            "references": {k: list(v) for k, v in self.references.items()},
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        return cls(
            id=data["id"],
            title=data["title"],
            severity=Severity(data["severity"]),
            checks=tuple(CheckRequest(c["check"], c["options"]) for c in data["checks"]),
            policy=data["policy"],
            rationale=data.get("rationale", ""),
            remediation=data.get("remediation", ""),
            applies_to=AppliesTo.from_json(data.get("applies_to", {})),
            references={k: tuple(v) for k, v in data.get("references", {}).items()},
        )


@dataclass(frozen=True)
class AssetSelector:
    """Which assets a waiver covers: any listed id or name, department or tag."""

    ids: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def matches(self, asset: Asset) -> bool:
        return (
            asset.id in self.ids
            or asset.name in self.ids
            or asset.department in self.departments
            or bool(self.tags & set(asset.tags))
        )

    def to_json(self) -> dict[str, list[str]]:
        return {
            "ids": sorted(self.ids),
            "departments": sorted(self.departments),
            "tags": sorted(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssetSelector:
        return cls(
            frozenset(data.get("ids", ())),
            frozenset(data.get("departments", ())),
            frozenset(data.get("tags", ())),
        )


@dataclass(frozen=True)
class Waiver:
    """An approved exception to one rule for some assets, until ``ends`` (UTC, exclusive)."""

    id: str
    rule: str
    assets: AssetSelector
    justification: str
    owner: str
    approver: str
    ticket: str
    ends: dt.datetime
    expires: str  # as written, for display
    policy: str = ""

    def active_at(self, now: dt.datetime) -> bool:
        return now < self.ends

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "assets": self.assets.to_json(),
            "justification": self.justification,
            "owner": self.owner,
            "approver": self.approver,
            "ticket": self.ticket,
            "ends": self.ends.isoformat(),
            "expires": self.expires,
            "policy": self.policy,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Waiver:
        return cls(
            id=data["id"],
            rule=data["rule"],
            assets=AssetSelector.from_json(data["assets"]),
            justification=data["justification"],
            owner=data["owner"],
            approver=data["approver"],
            ticket=data["ticket"],
            ends=dt.datetime.fromisoformat(data["ends"]),
            expires=data["expires"],
            policy=data.get("policy", ""),
        )


@dataclass(frozen=True)
class PolicyInfo:
    id: str
    version: str
    title: str
    source: str  # a file path or "builtin:NAME"
    digest: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class RuleSet:
    """Every rule and waiver of the policies a run applies, resolved and validated."""

    rules: tuple[Rule, ...]
    waivers: tuple[Waiver, ...]
    policies: tuple[PolicyInfo, ...]
    remediation_sla: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REMEDIATION_SLA))
    """Days to fix a failing finding, per severity (a severity absent: no deadline)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self.rules],
            "waivers": [w.to_json() for w in self.waivers],
            "policies": [p.to_json() for p in self.policies],
            "remediation_sla": dict(self.remediation_sla),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleSet:
        return cls(
            tuple(Rule.from_json(r) for r in data["rules"]),
            tuple(Waiver.from_json(w) for w in data["waivers"]),
            tuple(PolicyInfo(**p) for p in data["policies"]),
            # Runs stored before policies had deadlines get the defaults.
            dict(data.get("remediation_sla", DEFAULT_REMEDIATION_SLA)),
        )

    def plugins_for(self, asset: Asset) -> dict[str, list[CheckRequest]]:
        """The checks each plugin must serve on ``asset``, by plugin name."""
        wanted: dict[str, list[CheckRequest]] = {}
        for rule in self.rules:
            if not rule.applies_to.matches(asset):
                continue
            for use in rule.checks:
                wanted.setdefault(use.check_id.split(".", 1)[0], []).append(use)
        return wanted

    @property
    def digest(self) -> str:
        blob = json.dumps(self.to_json(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# --- loading -----------------------------------------------------------------


def builtin_policy_names() -> list[str]:
    root = pkgdata.files("scanner.policies")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


@dataclass
class _Source:
    key: str  # absolute path or builtin:NAME, for cycle detection
    display: str  # what positions print
    raw: bytes  # read once: what is parsed is what is digested


def _read_source(ref: str, relative_to: Path | None, where: Position | None) -> _Source:
    """Find a policy by path (relative to the including file) or shipped name.

    A file named by ``extends:`` that cannot be read is reported at the
    ``extends:`` item, naming the file; one named on the command line, at itself.
    """
    looks_like_path = "/" in ref or ref.endswith((".yaml", ".yml")) or ref.startswith(".")
    if looks_like_path:
        path = Path(ref).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        try:
            resolved = path.resolve()
        except (RuntimeError, OSError):  # RuntimeError: a symbolic link loop (Python 3.11)
            if where is None:
                raise ConfigError.at(Position(ref), "symbolic link loop") from None
            raise ConfigError.at(where, f"policy file {quote(ref, PATH_CHARS)}: symbolic link loop") from None
        if not resolved.exists():
            raise ConfigError.at(where or Position(ref), f"policy file {quote(ref, PATH_CHARS)} not found")
        display = ref_display(resolved)
        try:
            raw = read_bytes(resolved)
        except ConfigError as exc:
            if where is None:
                raise ConfigError.at(Position(display), exc.problems[0].message) from None
            raise ConfigError.at(where, f"policy file {quote(ref, PATH_CHARS)}: {exc.problems[0].message}") from None
        return _Source(str(resolved), display, raw)
    names = builtin_policy_names()
    if ref not in names:
        raise ConfigError.at(
            where or Position(ref),
            f"no shipped policy named {quote(ref)}{suggest(ref, names)}"
            f" (shipped: {', '.join(names) or 'none'})",
        )
    raw = (pkgdata.files("scanner.policies") / f"{ref}.yaml").read_bytes()
    return _Source(f"builtin:{ref}", f"builtin:{ref}", raw)


def ref_display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_policies(refs: Sequence[str], registry: Registry) -> RuleSet:
    """Load and validate policies by path or shipped name; raise ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    rules: dict[str, Rule] = {}
    rule_origin: dict[str, Position] = {}
    waivers: list[Waiver] = []
    infos: list[PolicyInfo] = []
    loaded: set[str] = set()
    shown: dict[str, str] = {}
    slas: dict[str, dict[str, int]] = {}  # each source's effective deadlines, extends applied

    def visit(ref: str, relative_to: Path | None, where: Position | None, chain: tuple[str, ...]) -> tuple[dict[str, Rule], dict[str, int]]:
        """Load one policy and what it extends; return its effective rules and deadlines."""
        try:
            source = _read_source(ref, relative_to, where)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return {}, {}
        shown[source.key] = source.display
        if source.key in chain:
            cycle = " -> ".join(shown[k] for k in [*chain[chain.index(source.key):], source.key])
            problems.append(ConfigProblem(where or Position(ref), f"extends cycle: {cycle}"))
            return {}, {}
        try:
            document = load_bytes(source.raw, source.display, POLICY_SHAPE)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return {}, {}
        parsed = _parse_policy(document.data, source.display, document.digest, registry)
        problems.extend(parsed.problems)
        effective: dict[str, Rule] = {}
        sla: dict[str, int] = {}
        base_dir = None if source.key.startswith("builtin:") else Path(source.key).parent
        for parent_ref, parent_where in parsed.extends:
            if base_dir is None and ("/" in parent_ref or parent_ref.endswith((".yaml", ".yml"))):
                problems.append(ConfigProblem(parent_where, "a shipped policy can only extend shipped policies"))
                continue
            parent_rules, parent_sla = visit(parent_ref, base_dir, parent_where, (*chain, source.key))
            effective.update(parent_rules)
            sla.update(parent_sla)
        for rule_id in parsed.exclude:
            effective.pop(rule_id, None)
        for change in parsed.tailor:
            inherited = effective.get(change.rule_id)
            if change.rule_id in parsed.rules:
                why = f"rule {quote(change.rule_id)} is defined under 'rules' here too: change that definition instead"
            elif inherited is None:
                why = f"'tailor' names rule {quote(change.rule_id)}, which " + (
                    "'exclude_rules' removes"
                    if change.rule_id in parsed.exclude
                    else "no extended policy defines" + suggest(change.rule_id, effective)
                )
            else:
                tailored = _tailored(inherited, change)
                if isinstance(tailored, Rule):
                    effective[change.rule_id] = tailored
                    continue
                why = tailored
            problems.append(ConfigProblem(change.where, why))
        # A rule redefined in an extending policy replaces the inherited one (tailoring);
        # a deadline set in the extending policy replaces the inherited one the same way.
        effective.update(parsed.rules)
        sla.update(parsed.sla)
        if source.key not in loaded:
            loaded.add(source.key)
            if parsed.info is not None:
                infos.append(parsed.info)
            waivers.extend(parsed.waivers)
        return effective, sla

    for ref in refs:
        ref_rules, slas[ref] = visit(ref, Path.cwd(), None, ())
        for rule_id, rule in ref_rules.items():
            if rule_id in rules and rules[rule_id] != rule:
                problems.append(
                    ConfigProblem(
                        Position(ref),
                        f"rule '{rule_id}' is defined differently in {rules[rule_id].policy} and "
                        f"{rule.policy}; give one a new id or have one policy extend the other",
                    )
                )
            rules.setdefault(rule_id, rule)
            rule_origin.setdefault(rule_id, Position(ref))
    seen_waivers: dict[str, Waiver] = {}
    for waiver in waivers:
        other = seen_waivers.get(waiver.id)
        if other is not None and other != waiver:
            problems.append(ConfigProblem(Position(waiver.policy), f"waiver id {quote(waiver.id)} is used twice"))
        seen_waivers[waiver.id] = waiver
    if problems:
        raise ConfigError(problems)
    if not rules:
        raise ConfigError.at(Position(refs[0] if refs else "policy"), "the policies define no rules")
    return RuleSet(tuple(rules.values()), tuple(seen_waivers.values()), tuple(infos), merge_sla(slas.values()))


def merge_sla(given: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The deadlines of policies applied side by side: the shortest per severity wins,
    since each policy's deadline is a promise the run must keep; unset ones keep the default."""
    merged = dict(DEFAULT_REMEDIATION_SLA)
    chosen: dict[str, int] = {}
    for sla in given:
        for severity, days in sla.items():
            chosen[severity] = min(days, chosen.get(severity, days))
    merged.update(chosen)
    return merged


@dataclass
class _Parsed:
    info: PolicyInfo | None
    rules: dict[str, Rule]
    waivers: list[Waiver]
    extends: list[tuple[str, Position]]
    exclude: list[str]
    problems: list[ConfigProblem]
    sla: dict[str, int] = field(default_factory=dict)
    tailor: list[_Tailoring] = field(default_factory=list)


class _Tailoring(NamedTuple):
    """``tailor:`` of one inherited rule: a new severity, and options changed per check."""

    rule_id: str
    where: Position
    policy: str
    severity: Severity | None
    options: tuple[tuple[str, Position, dict[str, Any]], ...]  # (check id, where, changed options)


_TOP_KEYS = ["policy", "extends", "exclude_rules", "tailor", "rules", "waivers", "remediation_sla"]
_TAILOR_KEYS = ["severity", "options"]
_POLICY_KEYS = ["id", "version", "title", "description"]
_RULE_KEYS = [
    "id",
    "title",
    "severity",
    "rationale",
    "remediation",
    "applies_to",
    "references",
    "checks",
]
_CHECK_KEYS = ["check", "options"]
_APPLIES_KEYS = ["kinds", "tags", "departments"]
_WAIVER_KEYS = [
    "id",
    "rule",
    "assets",
    "justification",
    "owner",
    "approver",
    "ticket",
    "expires",
]
_SELECTOR_KEYS = ["ids", "departments", "tags"]


def _parse_policy(data: Any, path: str, digest: str, registry: Registry) -> _Parsed:
    r = Reader(path)
    top = r.mapping(data, Position(path, 1, 1), "a policy file")
    empty = _Parsed(None, {}, [], [], [], r.problems)
    if top is None:
        return empty
    r.keys(top, "the policy file", _TOP_KEYS, required=["policy"])
    info = None
    policy_id = Path(path).stem
    head = r.mapping(top.get("policy"), top.value_pos("policy"), "'policy'") if "policy" in top else None
    if head is not None:
        r.keys(head, "'policy'", _POLICY_KEYS, required=["id", "version", "title"])
        policy_id = r.string(head, "id", "'policy'") or policy_id
        version = r.string(head, "version", "'policy'") or ""
        title = r.string(head, "title", "'policy'") or ""
        info = PolicyInfo(policy_id, version, title, path, digest)

    extends = [
        (ref, _item_pos(top, "extends", i)) for i, ref in enumerate(r.strings(top, "extends", "the policy file"))
    ]
    exclude = r.strings(top, "exclude_rules", "the policy file")

    rules: dict[str, Rule] = {}
    if "rules" in top:
        seq = r.sequence(top["rules"], top.value_pos("rules"), "'rules'")
        for i, item in enumerate(seq or []):
            rule = _parse_rule(r, item, seq.item_pos(i) if seq is not None else top.here(), policy_id, registry)
            if rule is None:
                continue
            if rule.id in rules:
                r.error(seq.item_pos(i) if seq is not None else top.here(), f"duplicate rule id '{rule.id}'")
                continue
            rules[rule.id] = rule
    elif not extends:
        r.error(top.here(), "the policy has no 'rules' and extends nothing")

    waivers: list[Waiver] = []
    if "waivers" in top:
        seq = r.sequence(top["waivers"], top.value_pos("waivers"), "'waivers'")
        seen: set[str] = set()
        for i, item in enumerate(seq or []):
            waiver = _parse_waiver(r, item, seq.item_pos(i) if seq is not None else top.here(), policy_id)
            if waiver is None:
                continue
            if waiver.id in seen:
                r.error(seq.item_pos(i) if seq is not None else top.here(), f"duplicate waiver id {quote(waiver.id)}")
                continue
            seen.add(waiver.id)
            waivers.append(waiver)
    sla = _parse_sla(r, top) if "remediation_sla" in top else {}
    tailor = _parse_tailor(r, top, policy_id, registry) if "tailor" in top else []
    if tailor and not extends:
        r.error(top.key_pos("tailor"), "'tailor' changes inherited rules, but the policy extends nothing")
    return _Parsed(info, rules, waivers, extends, exclude, r.problems, sla, tailor)


def _parse_tailor(r: Reader, top: PosDict, policy_id: str, registry: Registry) -> list[_Tailoring]:
    """``tailor: {RULE: {severity: S, options: {CHECK: {OPTION: VALUE}}}}`` (docs/policy.md)."""
    data = r.mapping(top["tailor"], top.value_pos("tailor"), "'tailor'")
    found: list[_Tailoring] = []
    if data is None:
        return found
    for rule_id in data:
        what = f"'tailor' of rule {quote(str(rule_id))}"
        entry = r.mapping(data[rule_id], data.value_pos(rule_id), what)
        if entry is None:
            continue
        before = len(r.problems)
        r.keys(entry, what, _TAILOR_KEYS)
        if not entry:
            r.error(data.value_pos(rule_id), f"{what} changes nothing: give 'severity', 'options' or both")
        severity = r.choice(entry, "severity", what, SEVERITIES) if "severity" in entry else None
        changed: list[tuple[str, Position, dict[str, Any]]] = []
        per_check = r.mapping(entry["options"], entry.value_pos("options"), f"'options' of {what}") if "options" in entry else None
        for check_id, given in (per_check or {}).items():
            assert per_check is not None
            at = per_check.key_pos(check_id)
            checked = _check_options(
                r, registry, str(check_id), given,
                named_at=at, options_at=per_check.value_pos(check_id), otherwise_at=at, partial=True,
            )
            if checked is not None:
                changed.append((str(check_id), at, checked[1]))
        if len(r.problems) == before:
            found.append(
                _Tailoring(
                    str(rule_id), data.key_pos(rule_id), policy_id,
                    Severity(severity) if severity else None, tuple(changed),
                )
            )
    return found


def _tailored(rule: Rule, change: _Tailoring) -> Rule | str:
    """``rule`` as ``change`` tailors it, or why it cannot be (a message)."""
    checks = list(rule.checks)
    for check_id, _where, options in change.options:
        at = [i for i, c in enumerate(checks) if c.check_id == check_id]
        if not at:
            have = ", ".join(sorted({c.check_id for c in checks}))
            return f"rule {quote(rule.id)} has no check {check_id} to tailor (its checks: {have})"
        if len(at) > 1:
            return (
                f"rule {quote(rule.id)} uses check {check_id} {len(at)} times, so 'tailor' cannot tell "
                "which to change: define the rule again under 'rules'"
            )
        checks[at[0]] = CheckRequest(check_id, {**checks[at[0]].options, **options})
    return replace(rule, severity=change.severity or rule.severity, checks=tuple(checks), policy=change.policy)


def _parse_sla(r: Reader, top: PosDict) -> dict[str, int]:
    """``remediation_sla: {critical: 7d, ...}``: days per severity."""
    data = r.mapping(top["remediation_sla"], top.value_pos("remediation_sla"), "'remediation_sla'")
    if data is None:
        return {}
    r.keys(data, "'remediation_sla'", SEVERITIES)
    sla: dict[str, int] = {}
    for severity in SEVERITIES:
        if severity not in data:
            continue
        value = data[severity]
        match = _SLA_DAYS.match(value) if isinstance(value, str) else None
        days = int(match.group(1)) if match else None
        if days is None or not 1 <= days <= MAX_SLA_DAYS:
            r.error(
                data.value_pos(severity),
                f"'{severity}' of 'remediation_sla' must be a number of days from 1d to {MAX_SLA_DAYS}d"
                f" (like 30d), got {quote(str(value))}",
            )
            continue
        sla[severity] = days
    return sla


def _item_pos(top: PosDict, key: str, index: int) -> Position:
    value = top.get(key)
    if isinstance(value, PosList):
        return value.item_pos(index)
    return top.value_pos(key)


def _check_options(
    r: Reader, registry: Registry, check_id: str, given: Any, *,
    named_at: Position, options_at: Position, otherwise_at: Position, partial: bool = False,
) -> tuple[Check, dict[str, Any]] | None:
    """The check named *check_id* and *given* options validated for it (:func:`validate_options`;
    ``partial`` for a ``tailor``, whose options must be written out), each problem reported where
    it is; None if the check is unknown or the options are not a mapping. *named_at*: the check's name, *options_at*: its options,
    *otherwise_at*: where a problem of the whole options goes when they are not written out."""
    spec = registry.check(check_id)
    if spec is None:
        r.error(named_at, f"unknown check {quote(check_id)}{suggest(check_id, registry.checks)} (civiscan checks lists them)")
        return None
    if (given is not None or partial) and not isinstance(given, PosDict):
        r.error(options_at, f"options of check {check_id} must be a mapping")
        return None
    options, problems = validate_options(spec.options, given, check_id, partial=partial)
    for p in problems:
        if p.key is not None and isinstance(given, PosDict):
            at = given.key_pos(p.key) if p.message.startswith("unknown option") else given.value_pos(p.key)
        elif isinstance(given, PosDict):
            at = given.here()
        else:
            at = otherwise_at
        r.error(at, p.message)
    return spec, options


def _parse_rule(r: Reader, item: Any, where: Position, policy_id: str, registry: Registry) -> Rule | None:
    data = r.mapping(item, where, "a rule")
    if data is None:
        return None
    before = len(r.problems)
    r.keys(data, "a rule", _RULE_KEYS, required=["id", "title", "checks"])
    rule_id = r.string(data, "id", "a rule")
    what = f"rule {quote(rule_id)}" if rule_id else "a rule"
    if rule_id and not _RULE_ID.match(rule_id):
        r.error(data.value_pos("id"), f"rule id {quote(rule_id)} may hold only letters, digits and . _ : -")
    title = r.string(data, "title", what) or ""
    severity = r.choice(data, "severity", what, SEVERITIES)
    rationale = r.string(data, "rationale", what) or ""
    remediation = r.string(data, "remediation", what) or ""

    applies = AppliesTo()
    if "applies_to" in data:
        app = r.mapping(data["applies_to"], data.value_pos("applies_to"), f"'applies_to' of {what}")
        if app is not None:
            r.keys(app, f"'applies_to' of {what}", _APPLIES_KEYS)
            kinds = r.strings(app, "kinds", f"'applies_to' of {what}")
            for k in kinds:
                if k not in KINDS:
                    r.error(app.value_pos("kinds"), f"unknown asset kind {quote(k)} (kinds: {', '.join(KINDS)}){suggest(k, KINDS)}")
            applies = AppliesTo(
                frozenset(AssetKind(k) for k in kinds if k in KINDS),
                frozenset(r.strings(app, "tags", f"'applies_to' of {what}")),
                frozenset(r.strings(app, "departments", f"'applies_to' of {what}")),
            )

    references: dict[str, tuple[str, ...]] = {}
    if "references" in data:
        refs = r.mapping(data["references"], data.value_pos("references"), f"'references' of {what}")
        for framework in refs or {}:
            if refs is not None:
                references[str(framework)] = tuple(r.strings(refs, framework, f"'references' of {what}"))

    checks: list[CheckRequest] = []
    seq = r.sequence(data.get("checks"), data.value_pos("checks"), f"'checks' of {what}") if "checks" in data else None
    if seq is not None and not seq:
        r.error(data.value_pos("checks"), f"{what} has an empty 'checks' list")
    for i, raw in enumerate(seq or []):
        use = r.mapping(raw, seq.item_pos(i) if seq is not None else where, f"a check of {what}")
        if use is None:
            continue
        r.keys(use, f"a check of {what}", _CHECK_KEYS, required=["check"])
        check_id = r.string(use, "check", f"a check of {what}")
        if check_id is None:
            continue
        checked = _check_options(
            r, registry, check_id, use.get("options"),
            named_at=use.value_pos("check"), options_at=use.value_pos("options") if "options" in use else where,
            otherwise_at=use.key_pos("check"),
        )
        if checked is None:
            continue
        spec, options = checked
        if applies.kinds and not (applies.kinds & spec.kinds):
            r.error(
                use.value_pos("check"),
                f"check {check_id} works on {', '.join(sorted(k.value for k in spec.kinds))}, "
                f"but {what} applies only to {', '.join(sorted(k.value for k in applies.kinds))}",
            )
        checks.append(CheckRequest(check_id, options))
    if len(r.problems) > before or rule_id is None or severity is None:
        return None
    if not applies.kinds:
        # Without explicit kinds a rule applies to the kinds its checks can judge.
        judged: frozenset[AssetKind] = frozenset().union(*(registry.checks[c.check_id].kinds for c in checks))
        applies = AppliesTo(judged, applies.tags, applies.departments)
    return Rule(
        id=rule_id,
        title=title,
        severity=Severity(severity),
        checks=tuple(checks),
        policy=policy_id,
        rationale=rationale,
        remediation=remediation,
        applies_to=applies,
        references=references,
    )


def _parse_waiver(r: Reader, item: Any, where: Position, policy_id: str) -> Waiver | None:
    data = r.mapping(item, where, "a waiver")
    if data is None:
        return None
    before = len(r.problems)
    r.keys(
        data,
        "a waiver",
        _WAIVER_KEYS,
        required=["id", "rule", "assets", "justification", "owner", "approver", "ticket", "expires"],
    )
    wid = r.string(data, "id", "a waiver")
    what = f"waiver {quote(wid)}" if wid else "a waiver"
    rule = r.string(data, "rule", what)
    fields = {k: r.string(data, k, what) or "" for k in ("justification", "owner", "approver", "ticket")}
    ends = r.expiry(data, "expires", what) if "expires" in data else None
    selector = AssetSelector()
    if "assets" in data:
        sel = r.mapping(data["assets"], data.value_pos("assets"), f"'assets' of {what}")
        if sel is not None:
            r.keys(sel, f"'assets' of {what}", _SELECTOR_KEYS)
            selector = AssetSelector(
                frozenset(r.strings(sel, "ids", what)),
                frozenset(r.strings(sel, "departments", what)),
                frozenset(r.strings(sel, "tags", what)),
            )
            if not (selector.ids or selector.departments or selector.tags):
                r.error(sel.here(), f"'assets' of {what} selects nothing: give ids, departments or tags")
    if len(r.problems) > before or not wid or not rule or ends is None:
        return None
    return Waiver(
        id=wid,
        rule=rule,
        assets=selector,
        ends=ends,
        expires=str(data["expires"]),
        policy=policy_id,
        **fields,
    )
