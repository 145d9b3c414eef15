"""Training: the loop (:mod:`ganlab.train.loop`) and one module per GAN family."""
