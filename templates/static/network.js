/* The lesson's network in the browser: the same forward pass, chain rule and
   gradient descent as engine/network.py and engine/train.py, one sample at a
   time with plain numbers. The tests check it against a plain-Python network
   (tests/plain_network.py).
   Classic script: it defines one global, LessonNet. */
var LessonNet = (function () {
  "use strict";

  function sigmoid(z) {
    // Written so that e^{-z} never overflows, as in engine/network.py.
    if (z >= 0) return 1 / (1 + Math.exp(-z));
    var e = Math.exp(z);
    return e / (1 + e);
  }

  /* Parameter names in the lesson's order: node by node, weights then bias. */
  function paramNames(layers) {
    var names = [];
    for (var l = 1; l < layers.length; l++) {
      for (var j = 1; j <= layers[l]; j++) {
        for (var i = 1; i <= layers[l - 1]; i++) names.push("w" + i + j + "_" + l);
        names.push("b" + j + "_" + l);
      }
    }
    return names;
  }

  /* Flat values (lesson order) -> W[l][i][j] and B[l][j], indices from 0, W[0] unused. */
  function unpack(layers, values) {
    var W = [null], B = [null], k = 0;
    for (var l = 1; l < layers.length; l++) {
      W.push([]); B.push([]);
      for (var i = 0; i < layers[l - 1]; i++) W[l].push(new Array(layers[l]));
      for (var j = 0; j < layers[l]; j++) {
        for (i = 0; i < layers[l - 1]; i++) W[l][i][j] = values[k++];
        B[l][j] = values[k++];
      }
    }
    return { W: W, B: B };
  }

  /* z and a of every node for one input x: z_j = sum_i w_ij a_i + b_j, a_j = sigma(z_j). */
  function forward(layers, net, x) {
    var a = [[x]], z = [null];
    for (var l = 1; l < layers.length; l++) {
      z.push([]); a.push([]);
      for (var j = 0; j < layers[l]; j++) {
        var sum = 0;
        for (var i = 0; i < layers[l - 1]; i++) sum += net.W[l][i][j] * a[l - 1][i];
        z[l].push(sum + net.B[l][j]);
        a[l].push(sigmoid(z[l][j]));
      }
    }
    return { z: z, a: a };
  }

  /* Chain rule for one sample whose loss is weight * (y - y-hat)^2:
     dE/da, dE/dw and dE/db, from the output down. */
  function backward(layers, net, pass, y, weight) {
    var L = layers.length - 1;
    var dA = new Array(L + 1), dW = new Array(L + 1), dB = new Array(L + 1);
    dA[L] = [-2 * weight * (y - pass.a[L][0])];
    for (var l = L; l >= 1; l--) {
      dW[l] = []; dB[l] = []; dA[l - 1] = [];
      var delta = [];
      for (var j = 0; j < layers[l]; j++) {
        var a = pass.a[l][j];
        delta.push(dA[l][j] * a * (1 - a));              // dE/dz = dE/da * sigma'(z)
        dB[l].push(delta[j]);
      }
      for (var i = 0; i < layers[l - 1]; i++) {
        dW[l].push([]);
        var paths = 0;
        for (j = 0; j < layers[l]; j++) {
          dW[l][i].push(pass.a[l - 1][i] * delta[j]);      // dE/dw_ij = a_i * delta_j
          paths += net.W[l][i][j] * delta[j];              // the paths through every j add up
        }
        dA[l - 1].push(paths);
      }
    }
    return { dA: dA, dW: dW, dB: dB };
  }

  /* Flatten per-layer gradients into the lesson's parameter order. */
  function pack(layers, dW, dB) {
    var out = [];
    for (var l = 1; l < layers.length; l++) {
      for (var j = 0; j < layers[l]; j++) {
        for (var i = 0; i < layers[l - 1]; i++) out.push(dW[l][i][j]);
        out.push(dB[l][j]);
      }
    }
    return out;
  }

  /* E = (1/n) sum (y - y-hat)^2 and its gradient: the mean of the per-sample gradients. */
  function lossAndGradient(layers, values, points) {
    var net = unpack(layers, values), n = points.length, L = layers.length - 1;
    var loss = 0, grads = new Array(values.length).fill(0);
    for (var k = 0; k < n; k++) {
      var pass = forward(layers, net, points[k][0]);
      var miss = points[k][1] - pass.a[L][0];
      loss += miss * miss;
      var back = backward(layers, net, pass, points[k][1], 1 / n);
      var g = pack(layers, back.dW, back.dB);
      for (var p = 0; p < g.length; p++) grads[p] += g[p];
    }
    return { loss: loss / n, grads: grads };
  }

  function predict(layers, values, x) {
    return forward(layers, unpack(layers, values), x).a[layers.length - 1][0];
  }

  /* Full-batch gradient descent; the loss of an epoch is taken before its step. */
  function train(layers, values, points, learningRate, epochs, onEpoch) {
    var params = values.slice(), losses = [];
    for (var e = 1; e <= epochs; e++) {
      var step = lossAndGradient(layers, params, points);
      losses.push(step.loss);
      if (onEpoch) onEpoch(e, step.loss, params);
      for (var p = 0; p < params.length; p++) params[p] -= learningRate * step.grads[p];
    }
    return { params: params, losses: losses, loss: lossAndGradient(layers, params, points).loss };
  }

  /* Every number the diagrams and their cards show, for one set of parameters, under the
     keys engine/formulas.py and engine/diagram.py give them (p:w11_1, a:1_1, s:1_1, dy, g:b1_2, ...).
     `sample` is a sample's index (from 0), or "mean": then every number that belongs to one
     sample (a node's value or gradient, a local derivative) is null, and the gradients on the
     diagram (G:...) are the means. The gradient of every sample (g1:..., g2:...) is always there. */
  function slots(layers, values, points, sample) {
    var names = paramNames(layers), net = unpack(layers, values), L = layers.length - 1;
    var whole = lossAndGradient(layers, values, points);
    var out = {};
    points.forEach(function (point, k) {
      var pass = forward(layers, net, point[0]);
      var back = backward(layers, net, pass, point[1], 1);
      var own = pack(layers, back.dW, back.dB);
      names.forEach(function (name, p) { out["g" + (k + 1) + ":" + name] = own[p]; });
      if (k !== sample) return;
      var miss = point[1] - pass.a[L][0];
      out.k = k + 1;
      out.y = point[1];
      out.L = miss * miss;
      out.dy = -2 * miss;
      for (var l = 0; l <= L; l++) {
        for (var j = 0; j < layers[l]; j++) {
          var key = (j + 1) + "_" + l;
          out["a:" + key] = pass.a[l][j];
          out["d:" + key] = back.dA[l][j];
          if (l > 0) {
            out["z:" + key] = pass.z[l][j];
            out["s:" + key] = pass.a[l][j] * (1 - pass.a[l][j]);
          }
        }
      }
      names.forEach(function (name, p) {
        var layer = +name.split("_")[1], index = name.slice(1).split("_")[0];
        out["gk:" + name] = own[p];
        out["t:" + name] = name[0] === "b" ? values[p] : values[p] * pass.a[layer - 1][+index[0] - 1];
      });
    });
    if (sample === "mean") out.L = whole.loss;
    names.forEach(function (name, p) {
      out["p:" + name] = values[p];
      out["g:" + name] = whole.grads[p];
      out["G:" + name] = sample === "mean" ? whole.grads[p] : out["gk:" + name];
    });
    return out;
  }

  return {
    sigmoid: sigmoid, paramNames: paramNames, unpack: unpack, forward: forward,
    backward: backward, lossAndGradient: lossAndGradient, predict: predict, train: train, slots: slots
  };
})();
