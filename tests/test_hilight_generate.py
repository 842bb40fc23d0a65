"""generate(): towers once per call, cache equivalence, left padding, multi-video, text only."""

import torch
from hilight_fixtures import frames, prompt, tiny_model
from transformers import AutoModelForCausalLM


def greedy(model, ids, videos=None, **kwargs):
    kwargs.setdefault("max_new_tokens", 6)
    return model.generate(input_ids=ids, pixel_values_videos=videos, do_sample=False, **kwargs)


def test_towers_and_token_mining_run_once_per_generate_call():
    model = tiny_model()
    calls = {"clip_vip": 0, "long_clip": 0, "token_mining": 0}
    for name in calls:
        getattr(model.model, name).register_forward_hook(lambda *a, n=name: calls.__setitem__(n, calls[n] + 1))
    out = greedy(model, prompt(model, [5, 6]), frames(), max_new_tokens=8, min_new_tokens=8)
    assert out.shape[1] == prompt(model, [5, 6]).shape[1] + 8
    assert calls == {"clip_vip": 1, "long_clip": 1, "token_mining": 1}


def test_greedy_with_cache_equals_without_cache():
    model = tiny_model(seed=3)
    ids = prompt(model, [5, 6, 7])
    with_cache = greedy(model, ids, frames(), max_new_tokens=8, use_cache=True)
    without = greedy(model, ids, frames(), max_new_tokens=8, use_cache=False)
    assert torch.equal(with_cache, without)


def test_left_padded_batch_equals_each_prompt_alone():
    model = tiny_model(seed=1)
    short, long = prompt(model, [5]), prompt(model, [9, 8, 7, 6, 5])
    videos = torch.cat([frames(seed=1), frames(seed=2)])
    alone = [greedy(model, short, videos[:1])[0, short.shape[1]:], greedy(model, long, videos[1:])[0, long.shape[1]:]]
    pad = long.shape[1] - short.shape[1]
    ids = torch.cat([torch.cat([torch.zeros(1, pad, dtype=torch.long), short], 1), long])
    mask = (torch.arange(long.shape[1]) >= torch.tensor([[pad], [0]])).long()
    batch = model.generate(input_ids=ids, attention_mask=mask, pixel_values_videos=videos, do_sample=False,
                           max_new_tokens=6, pad_token_id=0)
    assert torch.equal(batch[0, long.shape[1]:], alone[0]) and torch.equal(batch[1, long.shape[1]:], alone[1])


def test_sampling_and_beam_search_run():
    model = tiny_model()
    ids = prompt(model, [5, 6])
    torch.manual_seed(0)
    sampled = model.generate(input_ids=ids, pixel_values_videos=frames(), do_sample=True, top_k=20, max_new_tokens=5,
                             min_new_tokens=5)
    beams = model.generate(input_ids=ids, pixel_values_videos=frames(), num_beams=3, max_new_tokens=5, min_new_tokens=5,
                           do_sample=False)
    for out in (sampled, beams):
        assert out.shape == (1, ids.shape[1] + 5) and int(out.max()) < 128
        assert torch.equal(out[:, : ids.shape[1]], ids)


def test_multi_video_conversation_across_turns():
    model = tiny_model(seed=2)
    first = prompt(model, [5, 6])
    answer = greedy(model, first, frames(seed=1), max_new_tokens=3)
    second_turn = torch.cat([answer, prompt(model, [7, 8])[:, 1:]], dim=1)  # a new turn with a second video
    both = torch.cat([frames(seed=1), frames(seed=2)])
    out = greedy(model, second_turn, both, max_new_tokens=4)
    assert torch.equal(out[:, : second_turn.shape[1]], second_turn)
    swapped = greedy(model, second_turn, torch.cat([frames(seed=2), frames(seed=1)]), max_new_tokens=4)
    logits = model(input_ids=second_turn, pixel_values_videos=both).logits[0, -1]
    logits_swapped = model(input_ids=second_turn, pixel_values_videos=both.flip(0)).logits[0, -1]
    assert not torch.allclose(logits, logits_swapped)  # the order of the videos matters
    assert swapped.shape == out.shape


def test_text_only_generation_equals_the_bare_language_model():
    model = tiny_model(seed=4)
    llm = AutoModelForCausalLM.from_config(model.config.text_config).eval()
    state = {"model." + k: v for k, v in model.model.language_model.state_dict().items()}
    state["lm_head.weight"] = model.lm_head.weight
    llm.load_state_dict(state)
    ids = torch.tensor([[2, 11, 12, 13, 14]])
    assert torch.equal(greedy(model, ids, max_new_tokens=8), llm.generate(input_ids=ids, do_sample=False, max_new_tokens=8))


def test_separate_keyframes_are_used_at_prefill_only():
    model = tiny_model()
    calls = []
    model.model.long_clip.register_forward_hook(lambda m, args, kwargs, out: calls.append(kwargs["pixel_values"].shape),
                                                with_kwargs=True)
    ids = prompt(model, [5, 6], keyframes=3)
    out = model.generate(input_ids=ids, pixel_values_videos=frames(), pixel_values_keyframes=frames(count=3, seed=5),
                         do_sample=False, max_new_tokens=5, min_new_tokens=5)
    assert out.shape[1] == ids.shape[1] + 5 and calls == [torch.Size([3, 3, 32, 32])]
