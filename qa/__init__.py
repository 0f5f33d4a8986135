"""Question answering over the 《科技情报参考》 bulletins."""

__version__ = "0.1.0"
