"""One process-wide lock for importing and loading torch / Hugging Face models.

transformers loads weights under process-global state (default dtype, init-skipping and
weight-tying context managers), and torch/transformers import lazily. Two threads loading at
once were seen to produce half-initialised modules ("partially initialized module") and, worse,
a model whose tied lm_head was left randomly initialised, so it answered gibberish. The
in-process provider and the embedding model both take this lock, so loads never overlap.
The sentence embedder (providers/embedder.py) loads under it too.
"""

import threading

LOAD_LOCK = threading.RLock()

# In-process models (transformers and llama.cpp) share this machine's cores: they take turns
# generating, so one model's tokens/s is never depressed by another generating at the same time.
CPU_TURN = threading.Lock()
