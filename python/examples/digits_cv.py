"""The README's table: 5-fold cross_val_score on scikit-learn's digits (1,797 images of 8×8
pixels) of EnergyClassifier() — the seed's linear-score architecture, nll, Adam — beside
LogisticRegression, both after a StandardScaler in a Pipeline.

    python python/examples/digits_cv.py
"""

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ebmc.sklearn import EnergyClassifier

X, y = load_digits(return_X_y=True)
print("| estimator | accuracy, mean ± sd of 5 folds |")
print("| --- | --- |")
for name, est in [
    ("`EnergyClassifier()`", EnergyClassifier()),
    ("`LogisticRegression(max_iter=1000)`", LogisticRegression(max_iter=1000)),
]:
    scores = cross_val_score(make_pipeline(StandardScaler(), est), X, y, cv=5)
    print(f"| {name} | {scores.mean():.3f} ± {scores.std():.3f} |")
