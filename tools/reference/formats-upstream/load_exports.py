"""Loads vrft's exported Visual-RFT JSON and VLM-R1 JSONL the way the upstream training scripts
do, and writes what they would train on as a small JSON summary; test/integration/
formatsUpstream.test.ts requires vrft's dataset to be exactly that (no Python needed there).

Run (a venv outside the repo with `datasets`):
  python tools/reference/formats-upstream/load_exports.py \
      test/fixtures/formats-upstream/exports test/fixtures/formats-upstream/summary.json

The loaders, reimplemented from the published code (Apache-2.0):
- VLM-R1, om-ai-lab/VLM-R1 src/open-r1-multimodal/src/open_r1/grpo_jsonl.py, main(): each line's
  image (a name or a list) joined to the image folder as image_path; problem = the first turn's
  value without '<image>'; solution = the second turn's value without <answer> tags, stripped;
  accu_reward_method from the line, else the script's default; Dataset.from_list over all lines
  (one Arrow table: a column must hold one type); then make_conversation_from_jsonl wraps the
  solution as '<answer> {solution} </answer>'. What the rewards then read from that solution: REC
  (vlm_modules/qwen_module.py iou_reward): json.loads of the last <answer>…</answer>; detection
  (grpo_jsonl.py map_reward / odLength_reward): json.loads of the ```json block, no block: no box.
- Visual-RFT, Liuziyu77/Visual-RFT src/virft/src/open_r1/grpo.py: a datasets Dataset of {image,
  problem, solution} records (load_from_disk; here the exported records through Dataset.from_list,
  save_to_disk and load_from_disk), the prompt the problem text; detection truth read from the
  solution by its extract_bbox (copied verbatim below); classification truth (grpo_classification.py
  accuracy_reward) the <answer> content, stripped.
Images are not opened (the loaders only store paths); names are given relative to the file's
image folder.
"""
import json
import os
import re
import sys
import tempfile

from datasets import Dataset, load_from_disk


# ---- Liuziyu77/Visual-RFT @ 94866331ff38c516581697882a00f947c8bfda8a, src/virft/src/open_r1/grpo.py
# (verbatim, as in tools/reference/rewards-upstream/upstream_rewards.py)
def extract_bbox(response):
    start_tag = "<answer>"
    end_tag = "</answer>"
    input_str = response
    # Check if the start tag is in the string
    if start_tag in input_str:
        # Extract the content between the start tag and end tag
        start_idx = input_str.find(start_tag) + len(start_tag)
        end_idx = input_str.find(end_tag)

        # If end_tag is not found (i.e., the string is truncated), assume it should be at the end
        if end_idx == -1:
            end_idx = len(input_str)

        content_str = input_str[start_idx:end_idx]

        # Check if it ends with a closing bracket, if not, fix it
        if not content_str.endswith("]"):
            # If the string is truncated, remove the incomplete part
            content_str = content_str.rsplit("},", 1)[0] + "}]"

        # Replace single quotes with double quotes for valid JSON
        content_str_corrected = content_str.replace("'", '"')

        # Convert the corrected string to a list of dictionaries (JSON format)
        try:
            bbox_list = json.loads(content_str_corrected)
        except json.JSONDecodeError as e:
            bbox_list = None
    else:
        bbox_list = None
    return bbox_list
# ---- end of the verbatim copy


IMAGE_FOLDER = "/data"  # the exports' images are under it (the test writes them so)


def rel(p):
    return os.path.relpath(p, IMAGE_FOLDER)


def load_vlm_r1(file, image_folder=IMAGE_FOLDER, accu_reward_method="default"):
    all_data = []
    with open(file, "r") as f:
        for line in f:
            item = json.loads(line)
            if "image" in item:
                if isinstance(item["image"], str):
                    item["image_path"] = [os.path.join(image_folder, item["image"])]
                    del item["image"]
                elif isinstance(item["image"], list):
                    item["image_path"] = [os.path.join(image_folder, image) for image in item["image"]]
                    del item["image"]
                else:
                    raise ValueError(f"Unsupported image type: {type(item['image'])}")
            item["problem"] = item["conversations"][0]["value"].replace("<image>", "")
            solution_value = item["conversations"][1]["value"]
            if isinstance(solution_value, str):
                item["solution"] = solution_value.replace("<answer>", "").replace("</answer>", "").strip()
            else:
                item["solution"] = str(solution_value)
            del item["conversations"]
            item["accu_reward_method"] = item.get("accu_reward_method", accu_reward_method)
            all_data.append(item)
    dataset = Dataset.from_list(all_data)
    dataset = dataset.map(lambda example: {"solution": f"<answer> {example['solution']} </answer>"})
    rows = []
    for example in dataset:
        sol = example["solution"]
        row = {
            "id": example.get("id"),
            "images": [rel(p) for p in example["image_path"]],
            "problem": example["problem"],
            "accu_reward_method": example["accu_reward_method"],
        }
        block = re.search(r"```json(.*?)```", sol, re.DOTALL)
        if block:
            row["boxes"] = [{"bbox_2d": b["bbox_2d"], "label": b["label"]} for b in json.loads(block.group(1).strip())]
        else:
            answer = re.findall(r"<answer>(.*?)</answer>", sol, re.DOTALL)[-1].strip()
            if answer == "None":
                row["boxes"] = []
            else:
                row["rec_box"] = json.loads(answer)
        rows.append(row)
    return {"loader": "VLM-R1 grpo_jsonl.py", "columns": sorted(dataset.column_names), "rows": rows}


def load_visual_rft(file, task):
    with open(file) as f:
        records = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        Dataset.from_list(records).save_to_disk(tmp)
        dataset = load_from_disk(tmp)
        rows = []
        for example in dataset:
            sol = example["solution"]
            row = {"image": rel(example["image_path"]), "problem": example["problem"]}
            if task == "classification":
                match = re.search(r"<answer>(.*?)</answer>", sol)
                row["answer"] = match.group(1).strip() if match else sol.strip()
            else:
                boxes = extract_bbox(sol)
                row["positions"] = None if boxes is None else [b["Position"] for b in boxes]
            rows.append(row)
        columns = sorted(dataset.column_names)
    return {"loader": f"Visual-RFT grpo.py ({task})", "columns": columns, "rows": rows}


def main():
    exports, out = sys.argv[1], sys.argv[2]
    summary = {}
    for name in sorted(os.listdir(exports)):
        file = os.path.join(exports, name)
        if name.endswith(".jsonl"):
            summary[name] = load_vlm_r1(file)
        elif name.endswith(".json"):
            summary[name] = load_visual_rft(file, "classification" if "classification" in name else "detection")
    with open(out, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
