#!/usr/bin/env python3
"""Markdown table of criterion medians from the last `cargo bench` run.

Usage: python3 criterion_table.py [parse_read|parse]   (default parse_read)
Reads $CARGO_TARGET_DIR/criterion (default: bench/parser/target/criterion).
"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "target")), "criterion")
mode = sys.argv[1] if len(sys.argv) > 1 else "parse_read"
messages = ["invite", "ok200", "register", "proxy_invite"]
parsers = ["strowger", "rsip", "rsipstack"]


def median_ns(msg, parser):
    # criterion turns the "/" of a group name into "_" in the directory name
    for group in (f"{msg}_{mode}", f"{msg}/{mode}"):
        path = os.path.join(root, group, parser, "new", "estimates.json")
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)["median"]["point_estimate"]
    return None


def fmt(ns):
    return "n/a" if ns is None else (f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns")


print(f"| message ({mode}) | strowger | rsip | rsipstack | speed-up vs the faster of the two |")
print("|---|---:|---:|---:|---:|")
for m in messages:
    s, r, k = (median_ns(m, p) for p in parsers)
    others = [x for x in (r, k) if x is not None]
    speed = f"{min(others) / s:.2f}x" if s and others else "n/a"
    print(f"| {m} | {fmt(s)} | {fmt(r)} | {fmt(k)} | {speed} |")
