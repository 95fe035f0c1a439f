"""A byte-level tokenizer with a BOS token, as a Hugging Face tokenizer.

Token ids 0..255 are the bytes themselves (so a corpus read as bytes is already tokenised),
256 is BOS and 257 is padding. Saved beside every checkpoint with ``save_pretrained`` so that
``to_tokens`` / ``to_str_tokens`` work after loading. Multi-byte UTF-8 characters become
several tokens, as in any byte-level model.
"""

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from mechscope.core.byte_alphabet import bytes_to_unicode

BOS = "<|bos|>"
PAD = "<|pad|>"
BOS_ID = 256
PAD_ID = 257
VOCAB_SIZE = 258


def save_byte_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase:
    """Write the byte tokenizer into ``directory`` and return it, loaded back from there.

    Loaded back (not returned as built) because TransformerLens needs a tokenizer that knows
    the directory it came from.
    """
    byte_to_char = bytes_to_unicode()
    vocab = {byte_to_char[b]: b for b in range(256)} | {BOS: BOS_ID, PAD: PAD_ID}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    # BOS doubles as EOS (as GPT-2's <|endoftext|> does); without one, TransformerLens would
    # add a new EOS token outside the model's vocabulary.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=BOS, eos_token=BOS, pad_token=PAD
    )
    tokenizer.save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory, local_files_only=True)
