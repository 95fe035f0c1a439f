from mechscope.data.byte_tokenizer import BOS_ID, PAD_ID, VOCAB_SIZE, save_byte_tokenizer


def test_token_ids_are_the_bytes(tmp_path):
    tokenizer = save_byte_tokenizer(tmp_path)
    text = "héllo\n\twörld \x00"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == list(text.encode("utf-8"))
    assert tokenizer.decode(ids) == text
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, len(tokenizer)) == (
        BOS_ID,
        PAD_ID,
        VOCAB_SIZE,
    )
