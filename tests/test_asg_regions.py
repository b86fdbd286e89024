"""ASG's anatomical regions follow the image: where a study has no box for a region (NaN), the atlas box is moved by the
crop / augmentation transform the cache gives each sample, exactly as CGA's regions are (issue 14, defect 3)."""
import torch


def test_arsa_atlas_regions_move_with_the_image_transform():
    from cxr_graphalign.data.phantom import PhantomDataset
    from cxr_graphalign.models import create_model
    torch.manual_seed(0)
    model = create_model("asg-tiny", image__img_size=64).eval()
    ds = PhantomDataset("iu", size=64, seed=0, masks=False)
    batch = model.collate([ds[i] for i in range(4)])
    batch["region_boxes"] = torch.full_like(batch["region_boxes"], float("nan"))   # no dataset boxes: the atlas everywhere
    part = model.parts["region_sentence"]
    grid = model.image_features(batch["images"])[0]
    shift = torch.tensor([[64., 0., -16.], [0., 64., 8.]])   # source fractions -> input pixels: a crop shifted left and down
    batch["image_transform"] = shift.expand(4, 2, 3).clone()
    with torch.no_grad():
        out = part(model, {"image_grid": grid, "text_states": model.text_features(batch["input_ids"], batch["attention_mask"])[0]}, batch)
        want = part.regions(grid, 64, batch["region_boxes"], batch["image_transform"])[0]
        plain = part.regions(grid, 64, batch["region_boxes"], None)[0]
    assert not torch.allclose(want, plain), "the shift does not move any region: the test would not see the defect"
    rb, rr = batch["arsa_pairs"].any(2).nonzero(as_tuple=True)
    assert len(rb) > 0
    torch.testing.assert_close(out["arsa_region"], want[rb, rr])
