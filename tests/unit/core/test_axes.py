import pytest

from mechscope.core.axes import HeadId


def test_head_id_round_trips_through_text():
    head = HeadId.parse("1.4")
    assert head == HeadId(layer=1, head=4)
    assert str(head) == "1.4"


@pytest.mark.parametrize("text", ["1", "1.4.2", "a.b", "-1.2", ""])
def test_head_id_rejects_malformed_text(text):
    with pytest.raises(ValueError, match="LAYER.HEAD"):
        HeadId.parse(text)
