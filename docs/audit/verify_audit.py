#!/usr/bin/env python3
"""Re-verify a Roster audit log export (JSONL) without Roster: Python 3.8+ standard library only.

Usage:
    python3 verify_audit.py audit.jsonl [--allow-gaps] [--expect-head SEQ:HASH]
    GET /v1/orgs/{orgId}/audit-events/export?format=jsonl | python3 verify_audit.py -

Every line is one event. For each event the script recomputes

    hash = hex(SHA-256(utf8(prevHash + canonical(event))))

where canonical(event) is RFC 8785 (JSON Canonicalization Scheme) JSON of the twelve fields
orgId, seq, id, action, actorId, targetId, entityType, before, after, ip, userAgent, createdAt
(docs/audit.md), and checks that each event's prevHash is the previous event's hash (64 zeros before seq 1)
and that seq runs 1, 2, 3, ... without a gap.

--allow-gaps          accept gaps in seq (an export filtered by action, actor, ...): every event's own hash
                      is still checked, and links wherever two events are consecutive.
--expect-head SEQ:HASH
                      the export must contain event SEQ with this hash, e.g. from a signed checkpoint or a
                      compliance report's cover; this detects a log whose newest events were cut off.

Exit status: 0 verified, 1 the log is broken (the first bad seq is printed), 2 the input cannot be read.
"""

import hashlib
import json
import math
import sys

GENESIS = "0" * 64
FIELDS = ("orgId", "seq", "id", "action", "actorId", "targetId", "entityType",
          "before", "after", "ip", "userAgent", "createdAt")


def _number(x):
    """ECMAScript Number::toString, which RFC 8785 prescribes for numbers."""
    if isinstance(x, bool):
        raise ValueError("booleans are not numbers")
    if isinstance(x, int) and abs(x) < 10 ** 21:
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and Infinity cannot be canonicalized")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + int(exp or 0)  # value = 0.<digits> * 10**n
    while digits.startswith("0"):
        digits = digits[1:]
        n -= 1
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = (digits[0] + ("." + digits[1:] if k > 1 else "")
               + "e" + ("+" if e >= 0 else "-") + str(abs(e)))
    return sign + out


def canonical(value):
    """RFC 8785: sorted keys (by UTF-16 code units), no whitespace, ECMAScript strings and numbers."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in keys) + "}"
    raise ValueError("unsupported JSON value: %r" % (value,))


def event_hash(prev_hash, event):
    body = canonical({k: event[k] for k in FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8", "surrogatepass")).hexdigest()


def verify(lines, allow_gaps=False, expect_head=None):
    """Answers (True, summary) or (False, message naming the first bad seq)."""
    prev = None  # the previous event
    count = 0
    seen_head = False
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except ValueError as err:
            raise ValueError("line %d is not JSON: %s" % (lineno, err))
        missing = [k for k in FIELDS + ("prevHash", "hash") if k not in e]
        if missing:
            raise ValueError("line %d lacks %s" % (lineno, ", ".join(missing)))
        seq = e["seq"]
        if not isinstance(seq, int) or seq < 1:
            return False, "line %d: seq %r is not a positive integer" % (lineno, seq)
        if prev is not None and e["orgId"] != prev["orgId"]:
            return False, "seq %d: belongs to org %s, the log to %s (inserted)" % (seq, e["orgId"], prev["orgId"])
        expected = 1 if prev is None else prev["seq"] + 1
        if seq < expected or (prev is not None and seq <= prev["seq"]):
            return False, "seq %d: out of order after seq %d (reordered)" % (seq, prev["seq"] if prev else 0)
        if seq > expected and not allow_gaps:
            return False, "seq %d: missing (the next event in the log is seq %d)" % (expected, seq)
        if event_hash(e["prevHash"], e) != e["hash"]:
            return False, "seq %d: the content does not produce its hash (edited)" % seq
        if seq == 1 and e["prevHash"] != GENESIS:
            return False, "seq 1: does not start from the genesis hash (inserted)"
        if prev is not None and seq == prev["seq"] + 1 and e["prevHash"] != prev["hash"]:
            return False, "seq %d: is not chained to seq %d (edited or inserted)" % (seq, prev["seq"])
        if expect_head and seq == expect_head[0]:
            if e["hash"] != expect_head[1]:
                return False, "seq %d: hash differs from the expected head %s (edited)" % (seq, expect_head[1])
            seen_head = True
        prev = e
        count += 1
    if expect_head and not seen_head:
        last = prev["seq"] if prev else 0
        return False, "seq %d: missing, the log ends at seq %d (truncated)" % (last + 1, last)
    if prev is None:
        return True, "ok: empty log"
    return True, "ok: %d events verified, last seq %d, last hash %s" % (count, prev["seq"], prev["hash"])


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    allow_gaps = "--allow-gaps" in argv
    expect_head = None
    if "--expect-head" in argv:
        i = argv.index("--expect-head")
        try:
            seq, _, h = argv[i + 1].partition(":")
            expect_head = (int(seq), h.lower())
            args.remove(argv[i + 1])
        except (IndexError, ValueError):
            print("--expect-head needs SEQ:HASH", file=sys.stderr)
            return 2
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        if args[0] == "-":
            ok, message = verify(sys.stdin, allow_gaps, expect_head)
        else:
            with open(args[0], encoding="utf-8") as f:
                ok, message = verify(f, allow_gaps, expect_head)
    except (OSError, ValueError) as err:
        print("cannot read the log: %s" % err, file=sys.stderr)
        return 2
    print(message if ok else "BROKEN at " + message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
