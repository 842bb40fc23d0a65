"""generate(): towers once per call, cache equivalence, left padding, multi-video, text only."""

import torch
from hilight_fixtures import frames, prompt, tiny_model
from transformers import AutoModelForCausalLM


def greedy(model, ids, videos=None, **kwargs):
    kwargs.setdefault("max_new_tokens", 6)
    return model.generate(input_ids=ids, pixel_values_videos=videos, do_sample=False, **kwargs)


def count_vision_calls(model):
    calls = {"clip_vip": 0, "long_clip": 0, "token_mining": 0}
    for name in calls:
        getattr(model.model, name).register_forward_hook(lambda *a, n=name: calls.__setitem__(n, calls[n] + 1))
    return calls


def test_towers_and_token_mining_run_once_per_generate_call():
    model = tiny_model()
    calls = count_vision_calls(model)
    out = greedy(model, prompt(model, [5, 6]), frames(), max_new_tokens=8, min_new_tokens=8)
    assert out.shape[1] == prompt(model, [5, 6]).shape[1] + 8
    assert calls == {"clip_vip": 1, "long_clip": 1, "token_mining": 1}
    # beams are expanded after the videos are encoded: still once, on the one video, not on 3 copies
    seen = []
    model.model.clip_vip.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    greedy(model, prompt(model, [5, 6]), frames(), num_beams=3, max_new_tokens=4)
    assert calls == {"clip_vip": 2, "long_clip": 2, "token_mining": 2} and seen == [1]


def test_expanded_sequences_keep_their_own_videos_in_order():
    """Beams / num_return_sequences copy each prompt; a prompt with videos [A, B] must give every copy
    [A, B] (a plain repeat_interleave of the videos would give the copies [A, A], [A, B], [B, B])."""
    model = tiny_model(seed=2)
    ids = torch.cat([prompt(model, [5, 6], videos=2), torch.tensor([[11, 12]])], 1)
    videos = torch.cat([frames(seed=1), frames(seed=2)])
    expected = model(input_ids=ids, pixel_values_videos=videos).logits[0, -1]
    for kwargs in (dict(num_beams=3, num_return_sequences=3), dict(do_sample=True, num_return_sequences=3)):
        out = model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=2, output_logits=True,
                             return_dict_in_generate=True, **{"do_sample": False, **kwargs})
        first_step = out.logits[0]
        assert first_step.shape == (3, 128)
        for row in first_step:
            torch.testing.assert_close(row, expected)


def test_greedy_with_cache_equals_without_cache():
    model = tiny_model(seed=3)
    ids = prompt(model, [5, 6, 7])
    with_cache = greedy(model, ids, frames(), max_new_tokens=8, use_cache=True)
    without = greedy(model, ids, frames(), max_new_tokens=8, use_cache=False)
    assert torch.equal(with_cache, without)


def left_pad(prompts):
    width = max(p.shape[1] for p in prompts)
    ids = torch.cat([torch.cat([torch.zeros(1, width - p.shape[1], dtype=torch.long), p], 1) for p in prompts])
    mask = (torch.arange(width) >= torch.tensor([[width - p.shape[1]] for p in prompts])).long()
    return ids, mask


def test_left_padded_batch_equals_each_prompt_alone():
    model = tiny_model(seed=1)
    short, long = prompt(model, [5]), prompt(model, [9, 8, 7, 6, 5])
    videos = torch.cat([frames(seed=1), frames(seed=2)])
    alone = [greedy(model, short, videos[:1])[0, short.shape[1]:], greedy(model, long, videos[1:])[0, long.shape[1]:]]
    ids, mask = left_pad([short, long])
    batch = model.generate(input_ids=ids, attention_mask=mask, pixel_values_videos=videos, do_sample=False,
                           max_new_tokens=6, pad_token_id=0)
    assert torch.equal(batch[0, ids.shape[1]:], alone[0]) and torch.equal(batch[1, ids.shape[1]:], alone[1])


def test_mixed_batch_text_only_two_videos_and_one_video():
    """Videos of all samples in order of appearance; a text-only sample contributes none."""
    model = tiny_model(seed=5)
    prompts = [torch.tensor([[2, 21, 22, 23]]), prompt(model, [5, 6], videos=2), prompt(model, [7])]
    videos = [None, torch.cat([frames(seed=1), frames(seed=2)]), frames(seed=3)]
    alone = [greedy(model, p, v)[0, p.shape[1]:] for p, v in zip(prompts, videos)]
    ids, mask = left_pad(prompts)
    batch = model.generate(input_ids=ids, attention_mask=mask, pixel_values_videos=torch.cat(videos[1:]),
                           do_sample=False, max_new_tokens=6, pad_token_id=0)
    for row, expected in zip(batch, alone):
        assert torch.equal(row[ids.shape[1]:], expected)


def test_chunked_prefill_splits_the_vision_tokens_across_chunks():
    model = tiny_model(seed=6)
    ids = prompt(model, [5, 6, 7], videos=2)  # 101 tokens; chunks of 16 cut through both video spans
    videos = torch.cat([frames(seed=1), frames(seed=2)])
    assert torch.equal(greedy(model, ids, videos, prefill_chunk_size=16), greedy(model, ids, videos))


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


def test_generate_from_inputs_embeds_finds_the_placeholders_by_embedding():
    model = tiny_model(seed=7)
    ids = prompt(model, [5, 6, 7])
    expected = greedy(model, ids, frames())[:, ids.shape[1]:]
    embeds = model.get_input_embeddings()(ids)
    for beams in (1, 2):
        got = model.generate(inputs_embeds=embeds, pixel_values_videos=frames(), do_sample=False, max_new_tokens=6,
                             num_beams=beams, min_new_tokens=6 if beams > 1 else 0)
        if beams == 1:
            assert torch.equal(got, expected)  # generate returns only the new tokens here
        else:
            assert got.shape == (1, 6)
