"""Times gensim 4.4's Word2Vec vocabulary building (scan_vocab + build_vocab) over a LineSentence.

Prints one JSON line: seconds per phase of build_vocab, tokens and distinct words (min_count 1), so bench/vocab.sh can check both tools counted the same corpus.
"""
import json
import sys
import time

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


def main(path):
    # build_vocab = scan_vocab (the counting pass; single-threaded in gensim whatever `workers`
    # says) + prepare_vocab (min_count, sorting) + prepare_weights (allocating the vectors). The
    # first two are vocabulary building; the third is matrix set-up, which `embers vocab build`
    # does not do, so it is timed apart and left out of the comparison.
    model = Word2Vec(vector_size=100, min_count=1, workers=2)
    c0 = time.process_time()
    t0 = time.perf_counter()
    total_words, corpus_count = model.scan_vocab(LineSentence(path), progress_per=10**12)
    model.corpus_count = corpus_count
    model.corpus_total_words = total_words
    t1 = time.perf_counter()
    model.prepare_vocab()
    t2 = time.perf_counter()
    c2 = time.process_time()
    model.prepare_weights()
    t3 = time.perf_counter()
    print(json.dumps({
        "scan_seconds": t1 - t0,
        "prepare_vocab_seconds": t2 - t1,
        "prepare_weights_seconds": t3 - t2,
        "vocab_seconds": t2 - t0,
        "vocab_cpu_seconds": c2 - c0,
        "tokens": total_words,
        "distinct": len(model.wv),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
