"""REFI-QDA codebooks and projects: valid against the standard's XSDs, round-trip, stable GUIDs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import xmlschema

from semclust.core.errors import SemclustError
from semclust.core.refi_qda import (
    PROJECT_FILE,
    QdaCode,
    QdaPicture,
    read_codebook,
    stable_guid,
    write_codebook,
    write_project,
)

SCHEMAS = Path(__file__).parent / "data" / "refi_qda"
ODD = 'a < b & "c" \'d\' > é 漢字 🙂'


@pytest.fixture(scope="module")
def codebook_schema():
    return xmlschema.XMLSchema(SCHEMAS / "Codebook-mrt2019.xsd")


@pytest.fixture(scope="module")
def project_schema():
    return xmlschema.XMLSchema(SCHEMAS / "Project-mrt2019.xsd")


def _codes() -> list[QdaCode]:
    child = QdaCode("flooded street", "water, rain", guid=stable_guid("run", 2))
    return [QdaCode("protest", "crowd, banner", guid=stable_guid("run", 0), color="#ff0000"),
            QdaCode(ODD, ODD + "\x07", guid=stable_guid("run", 1), children=[child])]


def _flat(codes: list[QdaCode]) -> list[tuple[str, str, str, int]]:
    out = []
    for code in codes:
        out.append((code.name, code.description, code.guid.upper(), len(code.children)))
        out.extend(_flat(code.children))
    return out


def test_codebook_is_valid_and_round_trips(tmp_path, codebook_schema):
    path = write_codebook(_codes(), tmp_path / "book.qdc")
    codebook_schema.validate(path)
    back = read_codebook(path)
    assert _flat(back) == [("protest", "crowd, banner", stable_guid("run", 0), 0),
                           (ODD, ODD, stable_guid("run", 1), 1),  # the control character is dropped
                           ("flooded street", "water, rain", stable_guid("run", 2), 0)]
    assert back[0].color == "#ff0000"


def test_re_export_gives_identical_bytes_and_guids(tmp_path):
    codes = [QdaCode("a", children=[QdaCode("b")]), QdaCode("c")]
    first = write_codebook(codes, tmp_path / "1.qdc").read_bytes()
    second = write_codebook(codes, tmp_path / "2.qdc").read_bytes()
    assert first == second
    guids = [g for _, _, g, _ in _flat(read_codebook(tmp_path / "1.qdc"))]
    assert len(set(guids)) == 3 and guids[1] == stable_guid("code", "a", "b")


def _pictures(tmp_path, make_image, codes) -> list[QdaPicture]:
    pictures = []
    for i, code in enumerate([codes[0], codes[1], codes[1].children[0]]):
        file = make_image(tmp_path / f"img{i}.png", size=(40 + i, 30), seed=i)
        pictures.append(QdaPicture(stable_guid("item", i), f"item {i} {ODD}", file, ".png", 40 + i, 30,
                                   code.guid, description=f"post {i} <b>"))
    return pictures


def test_project_is_valid_holds_the_images_and_round_trips(tmp_path, make_image, project_schema):
    codes = _codes()
    pictures = _pictures(tmp_path, make_image, codes)
    path = write_project(codes, pictures, tmp_path / "p.qdpx", name=ODD, description="a run")
    with zipfile.ZipFile(path) as archive:
        project_schema.validate(archive.open(PROJECT_FILE))
        names = set(archive.namelist())
        assert names == {PROJECT_FILE} | {f"Sources/{p.guid}.png" for p in pictures}
        assert archive.read(f"Sources/{pictures[1].guid}.png") == pictures[1].file.read_bytes()
        qde = ET.fromstring(archive.read(PROJECT_FILE))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    coded = [ref.get("targetGUID") for ref in qde.iterfind(".//q:PictureSource//q:CodeRef", ns)]
    assert coded == [p.code_guid for p in pictures]
    assert [s.get("secondX") for s in qde.iterfind(".//q:PictureSelection", ns)] == ["40", "41", "42"]
    assert _flat(read_codebook(path)) == _flat(read_codebook(write_codebook(codes, tmp_path / "b.qdc")))
    again = write_project(codes, pictures, tmp_path / "q.qdpx", name=ODD, description="a run")
    assert again.read_bytes() == path.read_bytes()


def test_project_refuses_a_picture_coded_by_no_code(tmp_path, make_image):
    codes = _codes()
    picture = _pictures(tmp_path, make_image, codes)[0]
    stray = QdaPicture(picture.guid, "x", picture.file, ".png", 1, 1, stable_guid("nowhere"))
    with pytest.raises(SemclustError, match="no code of the project"):
        write_project(codes, [stray], tmp_path / "p.qdpx")
    assert not (tmp_path / "p.qdpx").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"cluster,keywords\n0,a b\n", "malformed XML"),
    (b"<html><body>hi</body></html>", "root element is <html>"),
    (b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>', "holds no codes"),
])
def test_a_non_refi_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "book.qdc"
    path.write_bytes(content)
    with pytest.raises(SemclustError, match=message) as info:
        read_codebook(path)
    assert "\n" not in str(info.value)


def test_a_zip_without_a_project_is_refused(tmp_path):
    path = tmp_path / "p.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(SemclustError, match="without project.qde"):
        read_codebook(path)


def test_duplicate_guids_and_bad_colours_are_refused(tmp_path):
    guid = stable_guid("same")
    with pytest.raises(SemclustError, match="share the GUID"):
        write_codebook([QdaCode("a", guid=guid), QdaCode("b", guid=guid.lower())], tmp_path / "x.qdc")
    with pytest.raises(SemclustError, match="color"):
        write_codebook([QdaCode("a", color="red")], tmp_path / "x.qdc")
    assert not (tmp_path / "x.qdc").exists()


def test_a_codebook_from_another_tool_is_read(tmp_path, codebook_schema):
    """Braced lower-case GUIDs and codes without descriptions, as some tools write them."""
    path = tmp_path / "other.qdc"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="x">'
        '<Codes><Code guid="{0f0e0d0c-0b0a-0908-0706-050403020100}" name="parent" isCodable="false">'
        '<Code guid="1f0e0d0c-0b0a-0908-0706-050403020100" name="child" isCodable="true"/></Code>'
        "</Codes></CodeBook>", encoding="utf-8")
    codebook_schema.validate(path)
    back = read_codebook(path)
    assert [(c.name, c.guid, [k.name for k in c.children]) for c in back] == [
        ("parent", "{0f0e0d0c-0b0a-0908-0706-050403020100}", ["child"])]
    rewritten = read_codebook(write_codebook(back, tmp_path / "again.qdc"))
    assert _flat(rewritten) == _flat(back)


def test_an_external_entity_is_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    path = tmp_path / "evil.qdc"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE CodeBook [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
                    '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid='
                    '"0f0e0d0c-0b0a-0908-0706-050403020100" name="a &x;" isCodable="true"/></Codes>'
                    "</CodeBook>")
    with pytest.raises(SemclustError) as info:
        read_codebook(path)
    assert "TOP-SECRET" not in str(info.value)
