#!/usr/bin/env python3
"""gensim 4.4 Word2Vec with the benchmark settings; writes word2vec binary vectors.
Usage: gensim_w2v.py CORPUS(.gz) OUT.bin sg|cbow THREADS [EPOCHS] [SEED] [hs]
dim 100, window 5, sample 1e-4, min_count 5; negative 5 (or, with `hs`, hierarchical softmax
and no negative sampling); alpha 0.025 for sg, 0.05 for cbow."""
import sys

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

corpus, out, model, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
hs = len(sys.argv) > 7 and sys.argv[7] == "hs"
m = Word2Vec(LineSentence(corpus), vector_size=100, window=5, negative=0 if hs else 5,
             hs=1 if hs else 0, sample=1e-4, min_count=5, epochs=epochs, workers=threads,
             sg=1 if model == "sg" else 0, alpha=0.025 if model == "sg" else 0.05, seed=seed)
m.wv.save_word2vec_format(out, binary=True)
