"""`evaluate --task generation` scores impressions of the published phantom test split only: phantoms whose reports no
pretraining run trains on (it used to take the last phantoms, most of them in the train split)."""


def test_generation_scores_only_published_test_phantoms(monkeypatch):
    from cxr_graphalign.data import phantom as P
    from cxr_graphalign.data.splits import phantom_split_of
    from cxr_graphalign.evaluate import generation as G
    from cxr_graphalign.models import hybridmed as H
    rendered, get = [], P.PhantomDataset.__getitem__
    def record(self, i):
        rendered.append(self.ids[i]); return get(self, i)
    monkeypatch.setattr(P.PhantomDataset, "__getitem__", record)
    monkeypatch.setattr(H, "hybridmed_part", lambda model: None)
    monkeypatch.setattr(H, "generate_impressions", lambda model, images, beam_size=3: ["No acute cardiopulmonary abnormality."] * len(images))
    res = G.phantom_generation(None, image_size=32, n=24, beam_size=1)
    assert res["n_studies"] == 24 == len(rendered)
    split = phantom_split_of(rendered)
    assert all(split[r] == "test" for r in rendered), [r for r in rendered if split[r] != "test"]
