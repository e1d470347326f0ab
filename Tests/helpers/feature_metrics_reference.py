"""Reference values for FeatureMetrics from numpy and scikit-learn.

python3 feature_metrics_reference.py OUT_DIR  ->  OUT_DIR/*.npy (1-D, flattened row-major) and
OUT_DIR/reference.json

Cases (deterministic, numpy default_rng):
- "blobs3": 3 overlapping Gaussian classes, D = 16, 400 train / 200 test rows;
- "blobs2": 2 classes, D = 12, 300 / 150 (scikit-learn's binary parameterisation);
- "lowrank": 5 strong directions plus small noise in D = 24 (effective rank far below D), and its
  first 10 rows (fewer rows than dimensions).
For each classification case: DINO eval_knn weighted k-NN (re-implemented in numpy, float64),
StandardScaler + LogisticRegression(C, lbfgs, tight tolerance) probabilities, roc_auc_score per class
and macro (ovr), confusion_matrix; effective rank via np.linalg.svd. A score matrix with many ties
("tied") checks the AUC tie rule on identical inputs.
"""
import json, os, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score
from sklearn.preprocessing import StandardScaler

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(2024)
ref = {}


def save(name, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype)).ravel()
    np.save(os.path.join(out, name + ".npy"), a)


def knn(train, train_y, test, k, T, K):
    """DINO eval_knn.knn_classifier: cosine top-k, weights exp(sim / T), class votes."""
    def normalize(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = normalize(test) @ normalize(train).T
    k = min(k, train.shape[0])
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]   # ties: the earlier train row first
    top = np.take_along_axis(sim, idx, axis=1)
    w = np.exp((top - top[:, :1]) / T)                       # = exp(sim / T) up to a per-row factor
    votes = np.zeros((test.shape[0], K))
    for j in range(k):
        np.add.at(votes, (np.arange(test.shape[0]), train_y[idx[:, j]]), w[:, j])
    scores = votes / votes.sum(axis=1, keepdims=True)
    return np.argmax(votes, axis=1), scores


def auc_per_class(y, scores, K):
    return [float(roc_auc_score(y == c, scores[:, c])) for c in range(K)]


def effective_rank(x):
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum())), s.tolist()


def classification_case(name, K, D, n_train, n_test, spread, C, k):
    centres = rng.normal(size=(K, D)) * spread
    def draw(n):
        y = rng.integers(0, K, size=n)
        x = centres[y] + rng.normal(size=(n, D)) + 0.3 * rng.normal(size=(1, D))
        return x.astype(np.float32), y
    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    for part, a in [("train_x", xtr), ("test_x", xte)]:
        save(f"{name}_{part}", a, np.float32)
    save(f"{name}_train_y", ytr, np.int64)
    save(f"{name}_test_y", yte, np.int64)
    x64tr, x64te = xtr.astype(np.float64), xte.astype(np.float64)

    pred, scores = knn(x64tr, ytr, x64te, k, 0.07, K)
    mu = x64tr.mean(axis=0)  # CL2N (SimpleShot): centre by the train mean, then the same vote
    cpred, cscores = knn(x64tr - mu, ytr, x64te - mu, k, 0.07, K)
    scaler = StandardScaler().fit(x64tr)
    lr = LogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=100000).fit(scaler.transform(x64tr), ytr)
    proba = lr.predict_proba(scaler.transform(x64te))
    lr_pred = np.argmax(proba, axis=1)
    erank, sv = effective_rank(x64tr)
    macro = (roc_auc_score(yte, proba[:, 1]) if K == 2 else roc_auc_score(yte, proba, multi_class="ovr", average="macro"))
    ref[name] = dict(
        K=K, D=D, n_train=n_train, n_test=n_test, C=C, k=k, T=0.07,
        knn_predictions=pred.tolist(), knn_scores=scores.ravel().tolist(),
        knn_accuracy=float((pred == yte).mean()), knn_auc=auc_per_class(yte, scores, K),
        knn_confusion=confusion_matrix(yte, pred, labels=range(K)).ravel().tolist(),
        knn_centred_predictions=cpred.tolist(), knn_centred_scores=cscores.ravel().tolist(),
        scaler_mean=scaler.mean_.tolist(), scaler_scale=scaler.scale_.tolist(),
        lr_probabilities=proba.ravel().tolist(), lr_accuracy=float((lr_pred == yte).mean()),
        lr_confusion=confusion_matrix(yte, lr_pred, labels=range(K)).ravel().tolist(),
        lr_auc=auc_per_class(yte, proba, K), lr_macro_auc=float(macro),
        effective_rank=erank, singular_values=sv, mean_std=float(x64tr.std(axis=0).mean()),
    )


classification_case("blobs3", K=3, D=16, n_train=400, n_test=200, spread=0.6, C=0.5, k=20)
classification_case("blobs2", K=2, D=12, n_train=300, n_test=150, spread=0.5, C=2.0, k=20)

# Effective rank: 5 strong directions (singular values spread out) plus small noise, D = 24.
basis = np.linalg.qr(rng.normal(size=(24, 5)))[0].T               # [5, 24] orthonormal rows
low = (rng.normal(size=(300, 5)) * np.array([5, 3, 2, 1, 0.5])) @ basis + 0.05 * rng.normal(size=(300, 24))
low = low.astype(np.float32)
save("lowrank_x", low, np.float32)
erank, sv = effective_rank(low.astype(np.float64))
erank_few, sv_few = effective_rank(low[:10].astype(np.float64))
ref["lowrank"] = dict(N=300, D=24, effective_rank=erank, singular_values=sv,
                      mean_std=float(low.astype(np.float64).std(axis=0).mean()),
                      few_rows=10, few_effective_rank=erank_few, few_singular_values=sv_few)

# AUC with many ties: scores rounded to one decimal, 4 classes.
yt = rng.integers(0, 4, size=500)
st = np.round(rng.dirichlet(np.ones(4), size=500) * 0.6 + 0.4 * np.eye(4)[yt] * rng.random((500, 1)), 1).astype(np.float32)
save("tied_scores", st, np.float32)
save("tied_y", yt, np.int64)
tied_auc = auc_per_class(yt, st.astype(np.float64), 4)   # ovr macro = their mean (these rows do not sum to 1)
ref["tied"] = dict(K=4, N=500, auc=tied_auc, macro_auc=float(np.mean(tied_auc)))

with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(ref, f)
