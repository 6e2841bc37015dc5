"""The CPU training speed paths, each one recipe key: the plain-logits LM head (`lm_head`), padding-free
attention one example at a time (`varlen_sdpa`), and glibc keeping freed memory (`keep_freed_memory`)."""
