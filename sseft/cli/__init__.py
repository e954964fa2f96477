"""The `sseft` command line. Command modules import torch only inside command bodies."""
