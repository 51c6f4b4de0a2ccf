"""gensim's analogy answers on an embers native f32 file: the score and the questions answered
right (gensim 4.4's evaluate_word_analogies, restrict_vocab 300,000), as one JSON object for
`cargo run --release -p embers --example analogy_paths -- ... --gensim FILE`.

usage: python3 bench/analogy_gensim.py EMBEDDINGS.embers questions-words.txt
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glove_eval import read_native  # noqa: E402
from gensim.models import KeyedVectors  # noqa: E402

words, emb = read_native(sys.argv[1])
kv = KeyedVectors(emb.shape[1])
kv.add_vectors(words, emb)
score, sections = kv.evaluate_word_analogies(sys.argv[2], restrict_vocab=300000)
total = sections[-1]
print(json.dumps({"score": score, "correct": [" ".join(q) for q in total["correct"]]}))
