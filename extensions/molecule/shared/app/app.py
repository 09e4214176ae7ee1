import demo_alpha
import demo_delta

if demo_delta.__name__ == "demo_delta":  # both dependencies import
    print('app on', demo_alpha.__version__)
