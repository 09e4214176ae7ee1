import demo_alpha, demo_delta

print('app on', demo_alpha.__version__)
