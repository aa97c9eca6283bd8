import math

import torch

from lit_gans import losses


def test_gan_losses_on_logits():
    confident = torch.full((4,), 20.0)
    assert losses.d_loss(confident, -confident) < 1e-6  # D right on both: no loss
    assert losses.g_loss(confident) < 1e-6  # D fooled: no loss for G
    assert math.isclose(losses.d_loss(torch.zeros(4), torch.zeros(4)).item(), 2 * math.log(2), rel_tol=1e-6)
    assert torch.isfinite(losses.g_loss(torch.full((4,), -200.0)))  # logits keep extreme values finite


def test_gaussian_nll_matches_torch_distribution():
    mean, target, log_std = torch.randn(6, 2), torch.rand(6, 2) * 2 - 1, torch.randn(6, 2) * 0.3
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(target).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(mean, target, log_std), expected, atol=1e-5)
    unit = -torch.distributions.Normal(mean, 1.0).log_prob(target).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(mean, target), unit, atol=1e-5)


def test_hinge_losses_on_known_logits():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 3.0])
    # D: mean(max(0, 1 - real)) + mean(max(0, 1 + fake)) = mean(0, 0.5, 2) + mean(0, 1, 4)
    assert math.isclose(losses.hinge_d_loss(real, fake).item(), 2.5 / 3 + 5 / 3, rel_tol=1e-6)
    assert losses.hinge_d_loss(torch.full((4,), 1.0), torch.full((4,), -1.0)) == 0  # beyond the margins: no loss
    assert math.isclose(losses.hinge_g_loss(fake).item(), -1 / 3, rel_tol=1e-6)  # -mean(D(G(z)))


def test_wasserstein_losses_on_known_scores():
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([-1.0, 0.0])
    assert math.isclose(losses.wasserstein_d_loss(real, fake).item(), -0.5 - 2.0, rel_tol=1e-6)
    assert math.isclose(losses.wasserstein_g_loss(fake).item(), 0.5, rel_tol=1e-6)


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm():
    # a linear critic's gradient is its weight everywhere: the penalty is (||w|| - 1)^2 at any interpolate
    torch.manual_seed(0)
    linear = torch.nn.Linear(784, 1)
    critic = lambda x: linear(x.flatten(1)).squeeze(1)  # noqa: E731
    real, fake = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)
    norm = linear.weight.norm()
    assert not math.isclose(norm.item(), 1.0, abs_tol=0.05)  # a case where the penalty is not zero
    penalty = losses.gradient_penalty(critic, real, fake)
    assert torch.allclose(penalty, (norm - 1) ** 2, rtol=1e-5)
    # create_graph=True: the penalty's backward (a double backward) reaches the critic's weights
    penalty.backward()
    expected = 2 * (norm - 1) * linear.weight / norm  # d/dw (||w|| - 1)^2
    assert torch.allclose(linear.weight.grad, expected.detach(), rtol=1e-4, atol=1e-7)
    with torch.no_grad():
        linear.weight.div_(norm)  # unit gradient norm: no penalty
    assert losses.gradient_penalty(critic, real, fake) < 1e-10


def test_gradient_penalty_is_taken_at_the_interpolates():
    # C(x) = sum(x^2): gradient 2 x_hat, so the penalty depends on where x_hat lies between real and fake
    critic = lambda x: x.pow(2).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    for eps, norm in ((0.0, 0.0), (1.0, 4.0), (0.25, 1.0)):  # ||2 x_hat|| = 2 * eps * sqrt(4)
        penalty = losses.gradient_penalty(critic, real, fake, eps=torch.full((2,), eps))
        assert math.isclose(penalty.item(), (norm - 1) ** 2, abs_tol=1e-6)


def test_categorical_information_of_confident_even_and_of_one_value_heads():
    even = torch.eye(10).repeat(3, 1) * 50.0  # 30 images, each confidently in its own value, every value used
    assert math.isclose(losses.categorical_information(even).item(), math.log(10), rel_tol=1e-4)
    one = torch.zeros(30, 10)
    one[:, 3] = 50.0  # every image in value 3: the value says nothing about the image
    assert abs(losses.categorical_information(one).item()) < 1e-4
    unsure = torch.zeros(30, 10)  # uniform per image: nothing either
    assert abs(losses.categorical_information(unsure).item()) < 1e-6
    logits = torch.randn(30, 10, requires_grad=True)
    (-losses.categorical_information(logits)).backward()  # maximised as a loss: gradients reach the head
    assert logits.grad.abs().sum() > 0


def test_consistency_is_zero_for_agreeing_heads_and_the_kl_otherwise():
    logits = torch.randn(6, 10)
    assert losses.consistency(logits, logits + 3.0).abs().item() < 1e-6  # a shift of every logit: the same p
    target = torch.randn(6, 10)
    p, q = target.softmax(1), logits.softmax(1)
    kl = (p * (p.log() - q.log())).sum(1).mean()
    assert math.isclose(losses.consistency(logits, target).item(), kl.item(), rel_tol=1e-5)
