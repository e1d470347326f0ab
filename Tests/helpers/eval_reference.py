"""Independent check of `lenspipe eval`'s k-NN row from `lenspipe embed` outputs (numpy + scikit-learn).

python3 eval_reference.py TRAIN_DIR TEST_DIR K T   (each DIR holds features.npy, labels.npy)
Prints JSON: k-NN accuracy and macro one-vs-rest ROC AUC of DINO's weighted vote (eval_knn.py:
cosine on L2-normalised features, top-k, weights exp(sim / T), class scores = summed weights).
"""
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score

train_dir, test_dir, k, T = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
xtr, ytr = np.load(train_dir + "/features.npy").astype(np.float64), np.load(train_dir + "/labels.npy")
xte, yte = np.load(test_dir + "/features.npy").astype(np.float64), np.load(test_dir + "/labels.npy")
K = int(max(ytr.max(), yte.max())) + 1
norm = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
sim = norm(xte) @ norm(xtr).T
k = min(k, len(ytr))
top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
scores = np.zeros((len(yte), K))
for i in range(len(yte)):
    for j in top[i]:
        scores[i, ytr[j]] += np.exp(sim[i, j] / T)
scores /= scores.sum(axis=1, keepdims=True)
pred = scores.argmax(axis=1)
auc = roc_auc_score(yte, scores, multi_class="ovr", average="macro") if K > 2 else roc_auc_score(yte, scores[:, 1])
print(json.dumps({"knn_accuracy": float((pred == yte).mean()), "knn_macro_auc": float(auc)}))
