import json
import os

import pytest

from app.settings_store import SCHEMA_VERSION, AppSettings, SettingsStore, default_settings_path


def test_missing_file_gives_defaults_without_message(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    settings = store.load()
    assert settings == AppSettings()
    assert (settings.width, settings.height, settings.fps) == (1280, 720, 30)
    assert store.message is None


def test_round_trip_keeps_every_value(tmp_path):
    store = SettingsStore(tmp_path / "sub" / "settings.json")
    settings = AppSettings(
        camera="/dev/video2",
        width=640,
        height=480,
        fps=15,
        filter_name="blur",
        strengths={"blur": 0.25, "neutralise": 0.75},
        regions=("mouth", "brows"),
        region_strength={"brows": 0.35, "eyes": 0.0, "mouth": 0.8},
        keep_speech=True,
        keep_blinks=False,
        mirror=False,
        split=0.3,
        window_geometry="AdnQywADAAA=",
        virtual_camera=True,
        max_faces=3,
    )
    store.save(settings)
    again = SettingsStore(store.path).load()
    assert again == AppSettings(**{**settings.__dict__, "regions": ("brows", "mouth")})
    assert again.strength_for("blur") == 0.25 and again.strength_for("pixelate") == 1.0
    assert json.loads(store.path.read_text())["region_strength"] == {"brows": 0.35, "eyes": 0.0, "mouth": 0.8}


def test_region_strength_defaults_to_full_and_a_region_not_saved_stays_full(tmp_path):
    assert AppSettings().region_strength == {"brows": 1.0, "eyes": 1.0, "mouth": 1.0}
    assert AppSettings().region_strength is not AppSettings().region_strength  # no shared mutable default
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"region_strength": {"mouth": 0.4}}))  # e.g. written by hand
    store = SettingsStore(path)
    assert store.load().region_strength == {"brows": 1.0, "eyes": 1.0, "mouth": 0.4}
    assert store.message is None
    path.write_text('{"region_strength": {"brows": NaN, "mouth": 0.4}}')  # Python's json reads NaN
    assert store.load().region_strength == AppSettings().region_strength
    assert "region_strength" in store.message


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    store = SettingsStore(tmp_path / "settings.json")
    store.save(AppSettings(filter_name="blur"))
    before = store.path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(AppSettings(filter_name="pixelate"))
    assert store.path.read_text() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b""],
    ids=["syntax", "binary", "not-an-object", "empty"],
)
def test_corrupt_file_is_set_aside_and_replaced_by_defaults(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    store = SettingsStore(path)
    settings = store.load()
    assert settings == AppSettings()
    assert store.message and "defaults" in store.message and "settings.json.bad" in store.message
    assert (tmp_path / "settings.json.bad").read_bytes() == content
    assert json.loads(path.read_text())["filter_name"] == AppSettings().filter_name  # a fresh valid file
    assert SettingsStore(path).load() == AppSettings()


def test_each_invalid_value_falls_back_alone_and_is_named(tmp_path):
    path = tmp_path / "settings.json"
    data = {
        "camera": "",
        "width": "wide",
        "height": 480,
        "fps": 31,
        "filter_name": "blur",
        "strengths": {"blur": 1.5},
        "regions": ["mouth", "nose"],
        "region_strength": {"mouth": 1.2},
        "keep_speech": "yes",
        "mirror": False,
        "split": -0.1,
        "window_geometry": 12,
        "virtual_camera": 1,
        "max_faces": 9,
        "from_a_newer_version": True,
    }
    path.write_text(json.dumps(data))
    store = SettingsStore(path)
    settings = store.load()
    defaults = AppSettings()
    assert settings.height == 480 and settings.filter_name == "blur" and settings.mirror is False
    invalid = (
        "camera",
        "width",
        "fps",
        "strengths",
        "regions",
        "region_strength",
        "keep_speech",
        "split",
        "max_faces",
    )
    for name in (*invalid, "window_geometry"):
        assert getattr(settings, name) == getattr(defaults, name), name
        assert name in store.message
    assert settings.virtual_camera is False  # 1 is not a boolean
    assert "from_a_newer_version" not in store.message
    assert not (tmp_path / "settings.json.bad").exists()  # partly valid files are not set aside


def test_default_path_is_in_user_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_settings_path() == tmp_path / "deadpan" / "settings.json"


def test_settings_a_newer_version_wrote_survive_a_save_by_this_one(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 9, "filter_name": "blur", "background": {"kind": "office"}}))
    store = SettingsStore(path)
    settings = store.load()
    assert settings.filter_name == "blur" and store.message is None
    settings.filter_name = "pixelate"
    store.save(settings)
    saved = json.loads(path.read_text())
    assert saved["background"] == {"kind": "office"} and saved["filter_name"] == "pixelate"
    assert saved["version"] == SCHEMA_VERSION  # what this version wrote, in its own format


def test_a_folder_given_as_the_settings_file_is_never_renamed_or_replaced(tmp_path, capsys):
    folder = tmp_path / "Documents"  # e.g. --settings ~/Documents by mistake
    (folder / "letter.txt").parent.mkdir()
    (folder / "letter.txt").write_text("mine")
    store = SettingsStore(folder)
    assert store.load() == AppSettings() and store.message  # defaults, and a message saying so
    assert (folder / "letter.txt").read_text() == "mine" and not store.bad_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Documents"]
    from app.gui.main import build_parser

    with pytest.raises(SystemExit) as info:  # the window's own option refuses it up front
        build_parser().parse_args(["--settings", str(folder)])
    assert info.value.code == 2 and "is a folder" in capsys.readouterr().err
    video = tmp_path / "talk.mp4"  # a file named by mistake: refused, not set aside as talk.mp4.bad
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--settings", str(video)])
    assert "not a Deadpan settings file" in capsys.readouterr().err and video.read_bytes().endswith(b"mp42")
    SettingsStore(tmp_path / "mine.json").save(AppSettings())  # a real one, and a new name, are taken
    assert build_parser().parse_args(["--settings", str(tmp_path / "mine.json")]).settings.name == "mine.json"
    assert build_parser().parse_args(["--settings", str(tmp_path / "new.json")]).settings.name == "new.json"
