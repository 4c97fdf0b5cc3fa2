"""Starts a worker thread that also calls the model, and one that outlives the script."""
import threading
import time

import torch
import torch.nn as nn

model = nn.Linear(3, 1)
worker = threading.Thread(target=lambda: model(torch.randn(2, 3)), name="helper")
worker.start()
worker.join()
threading.Thread(target=lambda: time.sleep(2.5), name="sleeper", daemon=True).start()
for _ in range(3):
    model(torch.randn(2, 3)).sum().backward()
