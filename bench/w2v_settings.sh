# shellcheck shell=bash
# The word2vec settings every word2vec benchmark gives embers: sourced by bench/quality.sh and
# bench/speed_w2v.sh, so a speed figure and a quality figure always describe the same training.
# gensim's side (bench/gensim_w2v.py) uses the same values: dim 100, window 5, sample 1e-4,
# min_count 5, 5 epochs. The model, the loss (--negative / --hs), the threads and the seed are
# each script's.
# shellcheck disable=SC2034
W2V_SETTINGS=(--dim 100 --window 5 --sample 1e-4 --min-count 5 --epochs 5)
