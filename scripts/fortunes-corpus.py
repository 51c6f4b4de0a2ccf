#!/usr/bin/env python3
"""Builds a labelled language-identification corpus from Debian's fortune packages.

Usage: fortunes-corpus.py EXTRACTED_DIR OUT_DIR
EXTRACTED_DIR holds one sub-directory per package (its .deb extracted there) named after the
language label (en, de, es, ...). Every fortune (entries between lines of "%") becomes one line
"__label__LANG text" with its whitespace collapsed; fortunes shorter than 20 or longer than 600
characters are left out; files that are not valid UTF-8 are skipped (where a package ships both
a legacy-encoded file and a non-empty ".u8" copy, the copy is used; ANSI colour codes are
removed). At most MAX_PER_LANG fortunes per
language, shuffled with a fixed seed, then split 80/20 into train.txt and test.txt; lines.txt
holds the test texts without labels (for prediction). Deterministic: same packages, same files.
"""
import os
import random
import re
import sys

MAX_PER_LANG = 2500
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

def fortunes_of(path):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    out = []
    for entry in text.replace("\r\n", "\n").split("\n%\n"):
        entry = " ".join(ANSI.sub("", entry).replace("%", " ").split())
        if 20 <= len(entry) <= 600:
            out.append(entry)
    return out

def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20240301)
    train, test = [], []
    for lang in sorted(os.listdir(src)):
        root = os.path.join(src, lang, "usr", "share", "games", "fortunes")
        seen = set()
        items = []
        for dirpath, dirnames, filenames in sorted(os.walk(root)):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if "off" in rel.split(os.sep) or rel.split(os.sep)[0] == "sk":
                continue
            names = set(filenames)
            for name in sorted(filenames):
                u8 = os.path.join(dirpath, name + ".u8")
                if name.endswith(".dat") or ((name + ".u8") in names and os.path.getsize(u8) > 0):
                    continue
                for f in fortunes_of(os.path.join(dirpath, name)):
                    if f not in seen:
                        seen.add(f)
                        items.append(f)
        rng.shuffle(items)
        items = items[:MAX_PER_LANG]
        cut = len(items) * 4 // 5
        train += [(lang, t) for t in items[:cut]]
        test += [(lang, t) for t in items[cut:]]
        print(f"{lang}: {len(items)} fortunes", file=sys.stderr)
    rng.shuffle(train)
    rng.shuffle(test)
    with open(os.path.join(out, "train.txt.part"), "w", encoding="utf-8") as f:
        f.writelines(f"__label__{l} {t}\n" for l, t in train)
    with open(os.path.join(out, "test.txt.part"), "w", encoding="utf-8") as f:
        f.writelines(f"__label__{l} {t}\n" for l, t in test)
    with open(os.path.join(out, "lines.txt.part"), "w", encoding="utf-8") as f:
        f.writelines(f"{t}\n" for _, t in test)
    for n in ("train.txt", "test.txt", "lines.txt"):
        os.replace(os.path.join(out, n + ".part"), os.path.join(out, n))

main()
