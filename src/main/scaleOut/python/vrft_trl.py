"""vrft's side of a TRL run exported by `vrft scale-out export`.

- RewardClient: vrft's verifiable rewards, scored by `vrft reward-server` over HTTP (no reward is
  re-implemented here). One TRL reward function per reward component, named after it, so TRL logs
  `rewards/<name>/mean`; the components of a batch come from one request, which also records every
  rollout in the vrft run.
- VrftCallback: posts TRL's log entries, checkpoints and the end of training to the same server, so
  the run's curves and warnings fill in live in vrft.
- load_processor: the model's processor padding on the left (TRL left-pads prompt ids but re-runs a
  processor it was given with that processor's own padding side: a right-padding one misaligns
  Qwen2-VL's image positions in a batch of mixed image sizes, silently or with a crash in
  get_rope_index), with the image sizes vrft scored the rewards at.
- load_dataset: the exported rows with their images, upright as vrft saw them.

Only the standard library talks to the server (urllib), so nothing beyond TRL's own requirements
is needed.
"""

import json
import os
import time
import urllib.error
import urllib.request

__all__ = ["RewardClient", "VrftCallback", "load_processor", "load_dataset"]


def _process():
    """(index, count) of this process among accelerate's, (0, 1) outside a launch."""
    try:
        from accelerate import PartialState

        state = PartialState()
        return state.process_index, state.num_processes
    except Exception:  # noqa: BLE001 - no accelerate state: one process
        return 0, 1


def _text(completion):
    """A completion's text: TRL passes a string, or a conversational list of messages."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content", "")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(c.get("text", "") for c in content if isinstance(c, dict))
    return "".join(parts)


class ServerError(RuntimeError):
    pass


class RewardClient:
    """Scores completions with vrft's rewards through `vrft reward-server`."""

    def __init__(self, url, token, names, max_completion_length, retry_seconds=120.0):
        self.url = url.rstrip("/")
        self.token = token
        self.names = list(names)
        self.max_completion_length = max_completion_length
        self.retry_seconds = retry_seconds
        self._last_key = None
        self._last = None

    @classmethod
    def from_project(cls, folder):
        """The server named in reward.json; VRFT_REWARD_URL / VRFT_REWARD_TOKEN override it."""
        with open(os.path.join(folder, "reward.json"), encoding="utf-8") as f:
            settings = json.load(f)
        return cls(
            os.environ.get("VRFT_REWARD_URL", settings["url"]),
            os.environ.get("VRFT_REWARD_TOKEN", settings["token"]),
            settings["rewards"],
            settings["max_completion_length"],
        )

    def post(self, path, body, retry=True):
        data = json.dumps(body).encode("utf-8")
        deadline = time.monotonic() + (self.retry_seconds if retry else 0)
        wait = 0.5
        while True:
            request = urllib.request.Request(
                self.url + path,
                data=data,
                method="POST",
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + self.token},
            )
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", "replace")
                try:
                    detail = json.loads(detail).get("error", detail)
                except ValueError:
                    pass
                if error.code == 401:
                    raise ServerError(
                        f"the vrft reward server at {self.url} refused the token: this project was exported "
                        "for another run or server; export it again, or set VRFT_REWARD_TOKEN"
                    ) from None
                raise ServerError(f"the vrft reward server at {self.url} answered {error.code}: {detail}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if time.monotonic() >= deadline:
                    raise ServerError(
                        f"the vrft reward server at {self.url} did not answer ({error}): start it with "
                        "`vrft reward-server` as README.md says (through an SSH tunnel from a cluster), then "
                        "launch again"
                    ) from None
                time.sleep(wait)
                wait = min(wait * 2, 10.0)

    def score(self, completions, sample_id, completion_ids, trainer_state):
        """Every component for a batch, asked once however many reward functions read it."""
        texts = [_text(c) for c in completions]
        step = trainer_state.global_step if trainer_state is not None else 0
        key = (step, tuple(sample_id), tuple(texts))
        if key != self._last_key:
            process, processes = _process()
            items = [
                {
                    "sample_id": s,
                    "completion": t,
                    "tokens": len(ids),
                    "truncated": len(ids) >= self.max_completion_length,
                }
                for s, t, ids in zip(sample_id, texts, completion_ids)
            ]
            answer = self.post(
                "/v1/score", {"step": step, "process": process, "processes": processes, "items": items}
            )
            self._last_key, self._last = key, answer["components"]
        return self._last

    def reward_functions(self):
        """One TRL reward function per component, named after it (TRL logs rewards/<name>/mean)."""

        def make(name):
            def reward(prompts, completions, completion_ids, sample_id, trainer_state=None, **_):
                return self.score(completions, sample_id, completion_ids, trainer_state)[name]

            reward.__name__ = name
            return reward

        return [make(name) for name in self.names]


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class VrftCallback(_callback_base()):
    """Posts TRL's log entries, checkpoints and the end of training to the vrft reward server."""

    def __init__(self, client):
        self.client = client

    def _post(self, path, body):
        try:
            self.client.post(path, body, retry=False)
        except ServerError as error:  # the curves can wait; the rewards will say if the server is gone
            print(f"vrft: {error}", flush=True)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._post("/v1/event", {"event": "train_begin", "step": state.global_step, "max_steps": state.max_steps})

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            self._post("/v1/log", {"step": state.global_step, "logs": numbers})

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = os.path.abspath(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))
            self._post("/v1/event", {"event": "checkpoint", "step": state.global_step, "path": path})

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._post("/v1/event", {"event": "train_end", "step": state.global_step})


def load_processor(model, min_pixels, max_pixels):
    """The model's processor, padding left, at vrft's image sizes."""
    from transformers import AutoProcessor

    kwargs = {"min_pixels": min_pixels, "max_pixels": max_pixels, "padding_side": "left"}
    try:
        processor = AutoProcessor.from_pretrained(model, **kwargs)
    except ImportError as error:
        if "orchvision" not in str(error):
            raise
        processor = _processor_without_torchvision(model, **kwargs)
    processor.tokenizer.padding_side = "left"
    assert processor.tokenizer.padding_side == "left", "TRL needs a processor that pads on the left"
    return processor


def _processor_without_torchvision(model, min_pixels, max_pixels, padding_side):
    """transformers 5's Qwen-VL processor imports torchvision for its video processor; images need
    only Pillow, so without torchvision (a CPU-only machine) the processor is built without one."""
    import transformers
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    family = AutoConfig.from_pretrained(model).model_type
    base = transformers.Qwen2_5_VLProcessor if family == "qwen2_5_vl" else transformers.Qwen2VLProcessor

    class ImagesOnly(base):
        @classmethod
        def get_attributes(cls):
            return [a for a in super().get_attributes() if a != "video_processor"]

    images = Qwen2VLImageProcessorPil.from_pretrained(model, min_pixels=min_pixels, max_pixels=max_pixels)
    tokenizer = AutoTokenizer.from_pretrained(model, padding_side=padding_side)
    template = getattr(tokenizer, "chat_template", None)
    for name in ("chat_template.json", "chat_template.jinja"):
        file = os.path.join(model, name)
        if os.path.exists(file):
            with open(file, encoding="utf-8") as f:
                template = json.load(f)["chat_template"] if name.endswith(".json") else f.read()
            break
    return ImagesOnly(image_processor=images, tokenizer=tokenizer, video_processor=None, chat_template=template)


def load_dataset(folder):
    """data/train.jsonl with each row's image opened upright (EXIF orientation applied, as vrft reads it)."""
    from datasets import Dataset
    from PIL import Image, ImageOps

    rows = []
    with open(os.path.join(folder, "data", "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            with Image.open(os.path.join(folder, "data", row["image"])) as image:
                row["image"] = ImageOps.exif_transpose(image).convert("RGB")
            rows.append(row)
    return Dataset.from_list(rows)
