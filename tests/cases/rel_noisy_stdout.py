"""A model that writes to stdout every way a process can: another thread's print, a raw write
to file descriptor 1, and a subprocess that inherits it."""
import os
import subprocess
import sys
import threading

import torch
import torch.nn as nn


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        worker = threading.Thread(target=lambda: print("printed by another thread"))
        worker.start()
        worker.join()
        os.write(1, b"written to fd 1\n")
        subprocess.run([sys.executable, "-c", "print('printed by a subprocess')"], check=True)
        return self.fc(x)


def build_model():
    return Noisy()


def example_inputs():
    return torch.randn(3, 4)
