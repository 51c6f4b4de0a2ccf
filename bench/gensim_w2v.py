#!/usr/bin/env python3
"""gensim 4.4 Word2Vec with the benchmark settings; writes word2vec binary vectors.
Usage: gensim_w2v.py CORPUS(.gz) OUT.bin sg|cbow THREADS [EPOCHS]"""
import sys

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

corpus, out, model, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
m = Word2Vec(LineSentence(corpus), vector_size=100, window=5, negative=5, sample=1e-4,
             min_count=5, epochs=epochs, workers=threads, sg=1 if model == "sg" else 0,
             alpha=0.025 if model == "sg" else 0.05, seed=1)
m.wv.save_word2vec_format(out, binary=True)
