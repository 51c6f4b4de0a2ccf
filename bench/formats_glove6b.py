"""Writes the GloVe 6B 50d vectors as glove.6B.50d.txt is laid out (`word v1 .. v50` per line,
values with 5 significant digits, no header) from testdata-fetched/glove6b50d/{emb.npy,words.txt}
(fetched by scripts/fetch-testdata.sh with EMBERS_BENCH_DATA=1). The f32 values are the text's
values read back, so printing them with 5 significant digits gives the original text again
(checked on the first row, which is quoted below from the original file).

usage: python bench/formats_glove6b.py DATA_DIR OUT
"""
import os
import sys

import numpy as np

src, out = sys.argv[1], sys.argv[2]
emb = np.load(os.path.join(src, "emb.npy"))
with open(os.path.join(src, "words.txt"), encoding="utf-8") as f:
    words = f.read().split("\n")[: emb.shape[0]]
assert len(words) == emb.shape[0], (len(words), emb.shape)
FIRST = ("the 0.418 0.24968 -0.41242 0.1217 0.34527 -0.044457 -0.49688 -0.17862 -0.00066023 "
         "-0.6566 0.27843 -0.14767 -0.55677 0.14658 -0.0095095 0.011658 0.10204 -0.12792 -0.8443 "
         "-0.12181 -0.016801 -0.33279 -0.1552 -0.23131 -0.19181 -1.8823 -0.76746 0.099051 -0.42125 "
         "-0.19526 4.0071 -0.18594 -0.52287 -0.31681 0.00059213 0.0074449 0.17778 -0.15897 0.012041 "
         "-0.054223 -0.29871 -0.15749 -0.34758 -0.045637 -0.44251 0.18785 0.0027849 -0.18411 -0.11514 "
         "-0.78581")


def fmt(v):
    # GloVe's files print plain decimals (0.00059213), never exponents.
    s = "%.5g" % v
    if "e" in s:
        s = np.format_float_positional(np.float32(v), precision=5, unique=False, fractional=False, trim="-")
    return s


with open(out + ".part", "w", encoding="utf-8") as f:
    for start in range(0, len(words), 20000):
        block = emb[start : start + 20000].astype(np.float64)
        text = np.char.mod("%.5g", block)
        lines = []
        for w, row, vals in zip(words[start : start + 20000], text, block):
            if any("e" in t for t in row):
                row = [fmt(v) for v in vals]
            lines.append(w + " " + " ".join(row))
        if start == 0 and lines[0] != FIRST:
            sys.exit(f"first row differs from glove.6B.50d.txt:\n{lines[0]}\n{FIRST}")
        f.write("\n".join(lines) + "\n")
os.replace(out + ".part", out)
print(f"{out}: {os.path.getsize(out)} bytes, {len(words)} rows")
