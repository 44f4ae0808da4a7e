package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// s3Opener opens s3:// URLs as gocloud's s3blob does, with the AWS SDK's
// own log silenced (its warnings, such as "Response has no supported
// checksum" once per read from S3-compatible servers, would reach the
// terminal) and, for an S3-compatible server named by endpoint=, without
// asking the EC2 instance metadata service for credentials (a missing
// credential then says so instead of naming IMDS). Query parameters:
// region, endpoint, profile, anonymous, use_path_style (or
// s3ForcePathStyle), disable_https, request_checksum_calculation,
// response_checksum_validation (default when_required: S3-compatible
// servers often send no checksum), and prefix (handled by the URL mux).
// A URL with any other parameter is opened by gocloud's s3blob opener as
// it is (its SDK log then not silenced).
type s3Opener struct{}

func (s3Opener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	for param := range u.Query() {
		switch param {
		case "region", "endpoint", "profile", "anonymous", "use_path_style", "s3ForcePathStyle", "disable_https",
			"request_checksum_calculation", "response_checksum_validation":
		default:
			// A parameter this opener does not know (ssetype, kmskeyid,
			// role, fips, …): gocloud's own opener handles it, or says
			// it is unknown.
			return blob.DefaultURLMux().OpenBucketURL(ctx, u)
		}
	}
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	var s3opts []func(*s3.Options)
	endpoint := ""
	respSet := false
	for param, values := range u.Query() {
		v := values[0]
		switch param {
		case "region":
			opts = append(opts, config.WithRegion(v))
		case "endpoint":
			endpoint = v
		case "profile":
			opts = append(opts, config.WithSharedConfigProfile(v))
		case "anonymous":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("anonymous=%s: %w", v, err)
			}
			if b {
				opts = append(opts, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
			}
		case "use_path_style", "s3ForcePathStyle", "disable_https":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %w", param, v, err)
			}
			if param == "disable_https" {
				s3opts = append(s3opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = b })
			} else {
				s3opts = append(s3opts, func(o *s3.Options) { o.UsePathStyle = b })
			}
		case "request_checksum_calculation":
			switch v {
			case "when_supported":
				opts = append(opts, config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenSupported))
			case "when_required":
				opts = append(opts, config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired))
			default:
				return nil, fmt.Errorf("request_checksum_calculation=%s: want when_supported or when_required", v)
			}
		case "response_checksum_validation":
			respSet = true
			switch v {
			case "when_supported":
				opts = append(opts, config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenSupported))
			case "when_required":
				opts = append(opts, config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
			default:
				return nil, fmt.Errorf("response_checksum_validation=%s: want when_supported or when_required", v)
			}
		default:
			return nil, fmt.Errorf("unknown query parameter %q (known: region, endpoint, profile, anonymous, use_path_style, disable_https, request_checksum_calculation, response_checksum_validation, prefix, timeout)", param)
		}
	}
	if !respSet && os.Getenv("AWS_RESPONSE_CHECKSUM_VALIDATION") == "" {
		opts = append(opts, config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	if endpoint != "" {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		s3opts = append(s3opts, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint) })
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: add region=REGION to the URL (us-east-1 for most S3-compatible servers) or set AWS_REGION")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if endpoint != "" {
			// The instance metadata service was not asked: say only
			// what is missing.
			return nil, fmt.Errorf("no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or add anonymous=true to the URL", endpoint)
		}
		return nil, fmt.Errorf("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or add anonymous=true to the URL (%w)", errors.Unwrap(err))
	}
	client := s3.NewFromConfig(cfg, s3opts...)
	return s3blob.OpenBucket(ctx, client, u.Host, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
}

// urlMux opens bucket URLs: s3:// with s3Opener, the other schemes as
// gocloud's default mux does.
var urlMux = func() *blob.URLMux {
	m := new(blob.URLMux)
	m.RegisterBucket(s3blob.Scheme, s3Opener{})
	for _, scheme := range blob.DefaultURLMux().BucketSchemes() {
		if scheme != s3blob.Scheme {
			m.RegisterBucket(scheme, defaultOpener{scheme})
		}
	}
	return m
}()

// defaultOpener opens a URL with gocloud's default mux.
type defaultOpener struct{ scheme string }

func (o defaultOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}
