from search_index.synonyms import SynonymTable
from search_index.text import normalise, terms, words


def test_standard_numbers_stay_whole_with_and_without_year() -> None:
    found = words(normalise("食品中苏丹红的测定 GB/T 19681-2005"))
    assert "gb/t 19681-2005" in found and "gb/t 19681" in found
    # full-width input and a missing space mean the same standard
    assert "gb/t 228.1-2021" in words(normalise("ＧＢ／Ｔ２２８．１－２０２１"))
    assert "gb 5009.12-2017" in words(normalise("依据GB 5009.12-2017测铅"))


def test_latin_words_single_characters_and_grams() -> None:
    assert {"icp-ms", "icp", "ms", "重金属"} <= set(words(normalise("ICP-MS测重金属")))
    assert "w:铅" in terms("铅")
    all_terms = terms("苏丹虹")  # a typo still shares the bigram 苏丹
    assert "b:苏丹" in all_terms


def test_synonym_latin_terms_match_whole_words_only() -> None:
    table = SynonymTable({"sem": ["扫描电镜"], "装修": ["甲醛"], "室内空气": ["甲醛", "TVOC"], "空气": ["PM2.5"]})
    assert [e.term for e in table.expand(normalise("SEM image"))] == ["sem"]
    assert table.expand(normalise("semiconductor wafer")) == []
    # the longer entry wins and the shorter one inside it does not fire again
    assert [e.term for e in table.expand(normalise("新装修室内空气"))] == ["室内空气", "装修"]
